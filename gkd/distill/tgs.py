"""TGS: teacher-free graph self-distillation, an MLP taught along the graph's edges by itself."""
from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.data import Data
from torch_geometric.utils import remove_self_loops

from ..errors import MismatchError
from ..models.base import Model, dropout, eval_mode, row_independent
from ..outputs import Outputs
from .base import Batch, Distiller
from .losses import endpoint_class_weights, supervised_loss
from .registry import register

if TYPE_CHECKING:
    from ..data.task import Task


class InterpolationFactor(nn.Module):
    """beta(u, v) = ratio + (1 - ratio) * sigmoid(a . [BN(W x_u) || BN(W x_v)]): how much of node u's
    features an interpolation between u and its neighbour v keeps, in [ratio, 1]. The BatchNorm
    normalises the u side and the v side of a batch of pairs each over its own rows."""

    def __init__(self, in_dim: int, hidden: int, ratio: float):
        super().__init__()
        self.ratio = ratio
        self.linear = nn.Linear(in_dim, hidden)
        self.norm = nn.BatchNorm1d(hidden)
        self.score = nn.Linear(2 * hidden, 1, bias=False)

    def forward(self, x: Tensor, src: Tensor, dst: Tensor) -> tuple[Tensor, Tensor]:
        """(beta(src, dst), beta(dst, src)), one value per pair, as columns. The linear map runs
        once per node the pairs name and is gathered per pair (the same values as per pair)."""
        nodes, index = torch.unique(torch.cat([src, dst]), return_inverse=True)
        h = self.linear(x[nodes])
        h_src, h_dst = self.norm(h[index[: src.numel()]]), self.norm(h[index[src.numel():]])
        w_u, w_v = self.score.weight[0].chunk(2)
        s_src, s_dst = h_src @ w_u + h_dst @ w_v, h_dst @ w_u + h_src @ w_v
        share = torch.sigmoid(torch.stack([s_src, s_dst], dim=-1))
        beta = self.ratio + (1.0 - self.ratio) * share
        return beta[:, :1], beta[:, 1:]


@register
class TGS(Distiller):
    """Wu, Lin, Gao, Zhao & Li, "A Teacher-Free Graph Knowledge Distillation Framework with Dual
    Self-Distillation" (IEEE TKDE 2024; arXiv 2210.02097 as "Teaching Yourself: Graph
    Self-Distillation on Neighborhood for Node Classification").

    No teacher and no message passing: an MLP is trained so that, along every edge, its
    prediction at a node agrees with its prediction at (an interpolation towards) the neighbour,
    in both directions. Two heads read the MLP's last hidden layer: the student's own output
    layer f (the one that predicts at inference) and an auxiliary head g = Linear(Dropout(h)), a
    part of this method that is trained with the student and dropped afterwards. For each edge
    (s, d) of the batch (``edge_index[0]`` = s, ``edge_index[1]`` = d), with
    beta_sd = beta(s, d), beta_ds = beta(d, s) from the learnable ``InterpolationFactor`` (values in
    [ratio, 1]) and k a node drawn uniformly from the batch's rows,

        x~_s = beta_ds * x_d + (1 - beta_ds) * x_s      (mostly the neighbour d)
        x~_d = beta_sd * x_s + (1 - beta_sd) * x_d      (mostly the node s)

        L_ne  = MSE(f(x_s), g(x~_s)) + MSE(f(x_d), g(x~_d))                   (logits)
        L_neg = -MSE(softmax f(x_s), softmax g(x_k)) - MSE(softmax f(x_d), softmax g(x_k))
        L_ce  = alpha * [CE_w(f(x_s), y_s) + CE_w(g(x~_s), y_s)]   on edges with s labelled
              + alpha * [CE_w(f(x_d), y_d) + CE_w(g(x~_d), y_d)]   on edges with d labelled

    MSE is the mean over edges and classes; nothing is detached, so each side of every pair
    learns from the other. CE_w is the cross-entropy weighted per class by
    w_c ~ n_c / e_c (``losses.endpoint_class_weights``: training nodes of class c over their edge
    endpoints, summing to the class count), which undoes the higher weight a label loss taken
    once per edge gives to high-degree classes. Returned terms: ``ce`` (L_ce), ``ne`` and ``neg``.

    Read against the authors' code (LirongWu/TGS, ``code/main.py`` ``main()``, ``code/model.py``
    ``MLP`` and ``NeFactor``, ``param/best_parameters.json``). Followed: the two heads and which
    predicts; the two interpolations, their factor (a linear map, BatchNorm per side, a bias-free
    score of the concatenation, a sigmoid rescaled to [ratio, 1]) learnt through the loss; MSE on
    logits for the positive pairs and minus MSE on probabilities against one uniformly drawn node
    per edge for the negatives; the label terms on both heads with the edge's labelled endpoint's
    label (the interpolation's too, though it is mostly the neighbour), their class weights, and
    alpha on the label terms alone; no temperature and no KL (the code has neither); no term off
    the edges, so a labelled node without edges gets no label loss, as there. Defaults are the
    authors' Cora settings (alpha 0.8, ratio 0.7; CiteSeer: 0.3, 0.5), with their student
    (``ModelSpec("mlp", hidden=1024, num_layers=3, dropout=0.5, norm="batch")``: gkd's MLP has
    ReLU where theirs has LeakyReLU) and optimiser (Adam, lr 0.01, weight decay 5e-4, 200 epochs,
    patience 50).

    gkd's choices: (1) one step per epoch over every edge of the batch (theirs: shuffled batches
    of 512 edges, each model call on its own rows), so f and g at the nodes come from the
    trainer's one forward pass over the batch's rows and the interpolations from one more pass
    over 2E rows; ``max_edges`` keeps a uniform sample of that many edges per step on larger graphs
    (memory O(max_edges * (features + hidden))). (2) g shares the student's last BatchNorm and
    activation with f (theirs: one of each per head), being a head on ``Outputs.hidden[-1]``.
    (3) The factor trains with the trainer's optimiser at the student's learning rate (theirs:
    its own Adam at 1e-4; gkd's trainer has one rate for all parameters); ``learn_factor=False``
    keeps it at its random start instead. (4) Self loops are dropped (they pair a node with
    itself). (5) The factor's width is the student's last hidden width (``factor_hidden=None``),
    as the authors' ``NeFactor`` takes the model's ``hid_dim``. (6) On a sampled subgraph only
    edges into ``visible`` rows (the seeds) count and negatives come from the subgraph's rows;
    the student must be row-independent (an MLP), since it runs on interpolated rows that are no
    node of any graph. Node tasks, multiclass, real features only.
    """

    name = "tgs"
    family = "output"
    taught_by = "self"
    needs_teacher = False
    kinds = ("node",)

    def __init__(self, alpha: float = 0.8, ratio: float = 0.7, head_dropout: float = 0.5,
                 factor_hidden: int | None = None, learn_factor: bool = True, max_edges: int | None = 65536):
        super().__init__()
        if alpha < 0:
            raise ValueError(f"tgs: alpha (the label terms' weight) must be non-negative, got {alpha}")
        if not 0.0 <= ratio <= 1.0:
            raise ValueError(f"tgs: ratio (the interpolation's least share of the neighbour) must lie in [0, 1], "
                             f"got {ratio}")
        if not 0.0 <= head_dropout < 1.0:
            raise ValueError(f"tgs: head_dropout must lie in [0, 1), got {head_dropout}")
        if factor_hidden is not None and factor_hidden < 1:
            raise ValueError(f"tgs: factor_hidden must be None (the student's width) or a positive width, "
                             f"got {factor_hidden}")
        if max_edges is not None and max_edges < 2:
            raise ValueError(f"tgs: max_edges must be None (every edge) or at least 2, got {max_edges}")
        self.alpha, self.ratio, self.head_dropout = alpha, ratio, head_dropout
        self.factor_hidden, self.learn_factor, self.max_edges = factor_hidden, learn_factor, max_edges
        self.head: nn.Linear | None = None
        self.factor: InterpolationFactor | None = None
        self.register_buffer("class_weight", None, persistent=False)
        self._student: tuple[nn.Module, ...] = ()  # unregistered: the trainer owns its parameters

    @property
    def extra_passes(self) -> int:
        return 1  # the student's pass over the interpolated rows

    def prepare(self, *, task: "Task", student: nn.Module, teacher: nn.Module | None,
                teacher_logits: Tensor | None) -> None:
        if task.kind != "node":
            raise MismatchError(f"tgs distils along the edges between the nodes of one graph and works on node tasks "
                                f"only; task {task.name!r} is a {task.kind} task")
        if task.objective != "multiclass":
            raise MismatchError(f"tgs: its label and negative terms are softmax ones; task {task.name!r} is "
                                f"{task.objective}")
        if task.categorical_sizes:
            raise MismatchError(f"tgs interpolates node features, but task {task.name!r} has integer-coded "
                                f"(categorical) features")
        if not row_independent(student) or (isinstance(student, Model) and student.reads_node_ids):
            raise MismatchError("tgs runs the student on interpolated feature rows that are no node of the graph, "
                                "so the student must read each row's features alone (an MLP, e.g. model 'mlp')")
        device = next(iter(student.parameters()), torch.empty(0)).device
        data = task.data
        with torch.no_grad(), eval_mode(student):
            out = student(Data(x=data.x[:2].to(device).float(), num_nodes=2))
        if not out.hidden:
            raise MismatchError("tgs: the student needs a hidden layer (Outputs.hidden) for its auxiliary head; "
                                "give it num_layers of at least 2")
        self.head = nn.Linear(out.hidden[-1].size(-1), task.num_classes).to(device)
        width = out.hidden[-1].size(-1) if self.factor_hidden is None else self.factor_hidden
        self.factor = InterpolationFactor(task.num_features, width, self.ratio).to(device)
        self.factor.requires_grad_(self.learn_factor)
        train = torch.zeros(data.num_nodes, dtype=torch.bool)
        train[task.split["train"]] = True
        ends = remove_self_loops(data.edge_index)[0].reshape(-1)  # sources, then targets
        self.class_weight = endpoint_class_weights(data.y, train, ends, task.num_classes).to(device)
        self._student = (student,)

    def auxiliary(self, hidden: Tensor) -> Tensor:
        """g: the auxiliary head's logits from the student's last hidden layer."""
        assert self.head is not None
        return self.head(dropout(hidden, self.head_dropout, self.training))

    def forward(self, student: Outputs, teacher: Outputs | None, batch: Batch) -> dict[str, Tensor]:
        if self.head is None or self.factor is None or not self._student:
            raise RuntimeError("tgs: call prepare(...) first (gkd.fit does)")
        (model,) = self._student
        f = student.logits
        rows = f.size(0)
        src, dst = remove_self_loops(batch.data.edge_index.to(f.device))[0]
        seeds = batch.visible.to(f.device)[dst]
        src, dst = src[seeds], dst[seeds]
        if self.max_edges is not None and src.numel() > self.max_edges:
            keep = torch.randperm(src.numel(), device=f.device)[: self.max_edges]
            src, dst = src[keep], dst[keep]
        if src.numel() == 0:
            raise MismatchError("tgs learns along the batch's edges and this batch has none into its seed rows "
                                "(sampled training gives a row-independent student its seed nodes alone): train "
                                "full-batch (no fanouts)")
        x = batch.data.x.float()
        beta_sd, beta_ds = self.factor(x, src, dst)
        x_s, x_d = x[src], x[dst]
        mixed = torch.cat([beta_ds * x_d + (1.0 - beta_ds) * x_s, beta_sd * x_s + (1.0 - beta_sd) * x_d])
        g_mixed = self.auxiliary(model(Data(x=mixed, num_nodes=mixed.size(0))).hidden[-1])
        g_s, g_d = g_mixed.split(src.numel())  # g(x~_s), g(x~_d)
        g_negative = self.auxiliary(student.hidden[-1])[torch.randint(0, rows, (src.numel(),), device=f.device)]
        f_s, f_d = f[src], f[dst]
        ne = F.mse_loss(f_s, g_s) + F.mse_loss(f_d, g_d)
        q = g_negative.softmax(dim=-1)
        neg = -F.mse_loss(f_s.softmax(dim=-1), q) - F.mse_loss(f_d.softmax(dim=-1), q)
        y = batch.y.view(-1).long().to(f.device)
        labelled = batch.labelled.to(f.device)
        ce = f_s.new_zeros(())
        for end, f_end, g_end in ((src, f_s, g_s), (dst, f_d, g_d)):
            on = labelled[end]
            for logits in (f_end, g_end):
                ce = ce + supervised_loss(logits[on], y[end][on], "multiclass", weight=self.class_weight)
        return {"ce": self.alpha * ce, "ne": ne, "neg": neg}
