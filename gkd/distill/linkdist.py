"""LinkDist and CoLinkDist: an MLP taught by its own predictions across the graph's links."""
from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import MismatchError
from ..models.base import LayerStack, dropout, eval_mode
from ..outputs import Outputs
from .base import Batch, Distiller, probe_input
from .losses import endpoint_class_weights
from .registry import register

if TYPE_CHECKING:
    from ..data.task import Task


def link_edges(edge_index: Tensor) -> tuple[Tensor, Tensor]:
    """The sources and targets of ``edge_index`` without its self loops (a node is no link of its own)."""
    src, dst = edge_index[0], edge_index[1]
    keep = src != dst
    return src[keep], dst[keep]


def link_statistics(src: Tensor, dst: Tensor, y: Tensor, labelled: Tensor, num_classes: int,
                    balance: bool = True) -> tuple[float, float, Tensor | None]:
    """What LinkDist's weights are made of, for the edges ``src -> dst`` and the labelled nodes:

    - ``node_share``: the share of the nodes that are labelled;
    - ``edge_share``: the share of the edges' 2|E| endpoints that are labelled;
    - ``weight``: per class c, n_c / m_c rescaled to sum to the number of classes, n_c the labelled
      nodes of class c and m_c the labelled endpoints of class c (a node counts once per edge end,
      so a well-linked labelled node weighs no more than its class's others); 0 for a class with
      no labelled endpoint (no edge term ever targets it). None without ``balance``.

    Only the labelled nodes' labels are read."""
    n = labelled.numel()
    node_share = float(labelled.sum()) / max(n, 1)
    ends = torch.cat([src, dst])
    labelled_ends = ends[labelled[ends]]
    edge_share = labelled_ends.numel() / max(ends.numel(), 1)
    if not balance:
        return node_share, edge_share, None
    return node_share, edge_share, endpoint_class_weights(y, labelled, ends, num_classes)


def _ce(logits: Tensor, target: Tensor, rows: Tensor, weight: Tensor | None = None) -> Tensor:
    """Cross-entropy of ``logits[rows]`` against ``target[rows]``, the weighted mean
    sum w_y l / sum w_y with ``weight``; zero (keeping the graph) when no row is picked."""
    if not bool(rows.any()):
        return logits.sum() * 0.0
    return F.cross_entropy(logits[rows], target[rows], weight=weight)


def link_terms(z: Tensor, s: Tensor, src: Tensor, dst: Tensor, y: Tensor, labelled: Tensor, *, alpha: float,
               weight: Tensor | None = None, negatives: Tensor | None = None, beta_link: float = 0.0,
               beta_node: float = 0.0) -> dict[str, Tensor]:
    """LinkDist's terms for node logits ``z`` (each node's own class) and ``s`` (its inference of a
    linked node's class), over the edges ``src[e] -> dst[e]``; with ``negatives`` (one node k_e per
    edge) CoLinkDist's too. See ``LinkDist`` for the formulas; ``weight`` balances the classes of
    the edge terms, ``beta_link`` and ``beta_node`` weigh the negative label terms."""
    if src.numel() == 0:
        zero = z.sum() * 0.0 + s.sum() * 0.0
        names = ("ce", "neighbour_ce", "link") + (() if negatives is None else ("contrast", "contrast_ce"))
        return {name: zero for name in names}
    y = y.view(-1).long()
    i, j = src, dst
    yi, yj = y[i], y[j]
    li, lj = labelled[i], labelled[j]
    z_i, z_j, s_i, s_j = z[i], z[j], s[i], s[j]
    ce = _ce(z_i, yi, li, weight) + _ce(z_j, yj, lj, weight)
    terms = {
        "ce": ce,
        "neighbour_ce": _ce(s_j, yi, li, weight) + _ce(s_i, yj, lj, weight),
        "link": alpha * (F.mse_loss(z_i, s_j) + F.mse_loss(z_j, s_i)),
    }
    if negatives is None:
        return terms
    k = negatives
    yk, lk, z_k, s_k = y[k], labelled[k], z[k], s[k]
    p_i, p_j, p_k = z_i.softmax(-1), z_j.softmax(-1), z_k.softmax(-1)
    q_i, q_j, q_k = s_i.softmax(-1), s_j.softmax(-1), s_k.softmax(-1)
    apart = F.mse_loss(p_i, q_k) + F.mse_loss(p_j, q_k) + F.mse_loss(p_k, q_i) + F.mse_loss(p_k, q_j)
    terms["ce"] = ce + 2.0 * _ce(z_k, yk, lk)
    terms["contrast"] = -0.5 * alpha * apart
    terms["contrast_ce"] = (-beta_link * (_ce(s_k, yi, li, weight) + _ce(s_k, yj, lj, weight))
                            - beta_node * (_ce(s_i, yk, lk) + _ce(s_j, yk, lk)))
    return terms


@register
class LinkDist(Distiller):
    """Luo, Chen, Yan & Tian, "Distilling Self-Knowledge From Contrastive Links to Classify Graph
    Nodes Without Passing Messages" (arXiv 2106.08541, 2021): LinkDist and, with
    ``contrastive=True``, CoLinkDist. No teacher: an MLP learns from the graph's links through
    its own predictions, and classifies a node from its features alone (LinkDistMLP).

    The student forks after its last hidden layer h: its own output z (the student's logits, the
    node's class) and an inference head s = W drop(h) + b (a class guess for the nodes it links
    to), owned by the method and trained with the student; prediction reads z alone. For every
    edge i -> j of the graph (self loops left out), L the labelled nodes, CE_w the class-weighted
    mean cross-entropy over the edges whose named end is labelled, MSE the mean over entries:

        ce           = CE_w(z_i, y_i | i in L) + CE_w(z_j, y_j | j in L)
        neighbour_ce = CE_w(s_j, y_i | i in L) + CE_w(s_i, y_j | j in L)
        link         = alpha * (MSE(z_i, s_j) + MSE(z_j, s_i))

    both sides with gradients (the two heads teach each other along the link). CoLinkDist draws
    one node k_e per edge, uniformly over all nodes (torch's global generator, fresh each step),
    and pushes the unlinked pairs (i, k) and (j, k) apart; with p = softmax(z), q = softmax(s):

        ce          += 2 * CE(z_k, y_k | k in L)
        contrast     = -alpha / 2 * (MSE(p_i, q_k) + MSE(p_j, q_k) + MSE(p_k, q_i) + MSE(p_k, q_j))
        contrast_ce  = -beta_link * (CE_w(s_k, y_i | i in L) + CE_w(s_k, y_j | j in L))
                       - beta_node * (CE(s_i, y_k | k in L) + CE(s_j, y_k | k in L))

    Weights, from the split (``link_statistics``): alpha = 1 - the share of edge endpoints that
    are labelled (``alpha`` sets it); the class weights w_c ∝ n_c / m_c, labelled nodes over
    labelled endpoints of class c (``balance=False``: none); beta_link and beta_node the shares
    of labelled nodes and of labelled endpoints (the authors' rule for 20 labels per class), or
    with ``beta`` = b: beta_link = b * node share / (node share + endpoint share), beta_node =
    b - beta_link (their rule for their 60/20/20 style splits, where b = 0.1).

    Read against the authors' code (cf020031308/LinkDist, ``main.py``: the ``LinkDist`` module and
    the ``linkdistmlp`` / ``colinkdistmlp`` training branches; ``ogbn.py`` for sampled edges).
    Followed: the forked heads, every term and weight above (alpha, the class weights, the
    betas, the factor 1/2 on the negative distances and 2 on the random nodes' labels, the
    unweighted label terms of the random nodes), the MSE on raw logits for links and on
    probabilities for negatives, one uniform negative per edge, nothing detached, inference from
    the own head alone, self-knowledge from the labelled nodes' labels only. gkd's, stated:
    (1) one full-batch step an epoch over every edge (theirs: shuffled batches of 1,024 edges,
    int(200 / mean degree) epochs), each node with one dropout mask a step (theirs: one per
    endpoint occurrence); ``max_edges`` samples that many edges each step, with replacement, as
    their OGB script does; (2) the inference head shares the student's last hidden layer with
    its normalisation, a dropout of its own (``dropout``: the student's rate by default;
    theirs: both heads their own BatchNorm + LayerNorm + LeakyReLU + dropout 0.5); (3) the
    student is any gkd model with a hidden layer; their 3 x 256 MLP (BatchNorm + LayerNorm, on
    DGL's row-normalised features) is nearest to ``ModelSpec("mlp", hidden=256, num_layers=3,
    dropout=0.5, norm="layer")`` with ``normalize_features=True``, lr 0.01 and no weight decay
    (on Cora's largest component, binary features, seed 0, 200 epochs: 74.7 test with LayerNorm,
    66.7 with none, 67.9 with BatchNorm; 76.6 with LayerNorm on row-normalised features); (4)
    their LinkDist (not MLP) prediction, log softmax(z) + alpha * mean over neighbours of
    log softmax(s), passes messages and is left out. Node tasks, multiclass, full-batch only:
    every step reads every edge and every node's outputs, O(|E| * classes) memory (``max_edges``
    bounds it).
    """

    name = "linkdist"
    kinds = ("node",)
    family = "output"  # class logits are what travels along the links: the own head's against the inference head's
    taught_by = "self"
    needs_teacher = False

    def __init__(self, contrastive: bool = False, alpha: float | None = None, beta: float | None = None,
                 balance: bool = True, dropout: float | None = None, max_edges: int | None = None):
        super().__init__()
        if not isinstance(contrastive, bool):
            raise ValueError(f"linkdist: contrastive must be True or False, got {contrastive!r}")
        if alpha is not None and alpha < 0:
            raise ValueError(f"linkdist: alpha must be non-negative (or None: 1 - labelled share of edge ends), "
                             f"got {alpha}")
        if beta is not None and not contrastive:
            raise ValueError("linkdist: beta weighs CoLinkDist's negative label terms; set contrastive=True or "
                             "leave beta None")
        if beta is not None and beta < 0:
            raise ValueError(f"linkdist: beta must be non-negative (or None: the labelled shares), got {beta}")
        if dropout is not None and not 0.0 <= dropout < 1.0:
            raise ValueError(f"linkdist: dropout must lie in [0, 1) (or None: the student's), got {dropout}")
        if max_edges is not None and max_edges < 1:
            raise ValueError(f"linkdist: max_edges must be a positive count (or None: every edge), got {max_edges}")
        self.contrastive, self.alpha, self.beta, self.balance = contrastive, alpha, beta, balance
        self.dropout, self.max_edges = dropout, max_edges
        self.head: nn.Linear | None = None
        self.head_dropout = 0.0

    def prepare(self, *, task: "Task", student: nn.Module, teacher: nn.Module | None,
                teacher_logits: Tensor | None) -> None:
        if task.kind != "node":
            raise MismatchError(f"linkdist learns along the links between the nodes of one graph; {task.name!r} is "
                                f"a {task.kind} task")
        if task.objective != "multiclass":
            raise ValueError(f"linkdist predicts one class per node: it needs a multiclass task, {task.name!r} is "
                             f"{task.objective}")
        device = next(student.parameters()).device
        with torch.no_grad(), eval_mode(student):
            out = student(probe_input(task, device))
        if not out.hidden:
            raise MismatchError("linkdist forks its inference head from the student's last hidden layer, and this "
                                "student has none (an MLP needs num_layers >= 2)")
        self.head = nn.Linear(out.hidden[-1].size(-1), out.logits.size(-1)).to(device)
        own = student.dropout if isinstance(student, LayerStack) else 0.0
        self.head_dropout = own if self.dropout is None else self.dropout

    def inference(self, hidden: Tensor) -> Tensor:
        """s: the inference head's class logits for the nodes a node links to."""
        if self.head is None:
            raise RuntimeError("linkdist: call prepare(...) first (fit does)")
        return self.head(dropout(hidden, self.head_dropout, self.training))

    def forward(self, student: Outputs, teacher: Outputs | None, batch: Batch) -> dict[str, Tensor]:
        if batch.objective != "multiclass":
            raise ValueError(f"linkdist needs a multiclass objective, got {batch.objective!r}")
        if "n_id" in batch.data:
            raise ValueError("linkdist reads every edge with both ends' outputs: train it full-batch (no fanouts); "
                             "for large graphs bound the edges per step with max_edges")
        z = student.logits
        if not student.hidden:
            raise MismatchError("linkdist: the student's outputs have no hidden layer to fork the inference head from")
        s = self.inference(student.hidden[-1])
        n = z.size(0)
        src, dst = link_edges(batch.data.edge_index.to(z.device))
        if src.numel() and int(torch.maximum(src.max(), dst.max())) >= n:
            raise MismatchError(f"linkdist: the edges name node {int(torch.maximum(src.max(), dst.max()))} but the "
                                f"student gives {n} rows")
        labelled = batch.labelled.to(z.device)
        node_share, edge_share, weight = link_statistics(src, dst, batch.y, labelled, z.size(-1), self.balance)
        if weight is not None:
            weight = weight.to(z.device)
        if self.max_edges is not None and src.numel() > self.max_edges:
            picked = torch.randint(0, src.numel(), (self.max_edges,), device=z.device)
            src, dst = src[picked], dst[picked]
        alpha = 1.0 - edge_share if self.alpha is None else self.alpha
        negatives = torch.randint(0, n, (src.numel(),), device=z.device) if self.contrastive else None
        beta_link, beta_node = self.betas(node_share, edge_share)
        return link_terms(z, s, src, dst, batch.y.to(z.device), labelled, alpha=alpha, weight=weight,
                          negatives=negatives, beta_link=beta_link, beta_node=beta_node)

    def betas(self, node_share: float, edge_share: float) -> tuple[float, float]:
        """(beta_link, beta_node) for the labelled shares of nodes and of edge endpoints."""
        if self.beta is None:
            return node_share, edge_share
        total = node_share + edge_share
        beta_link = self.beta * node_share / total if total > 0 else 0.0
        return beta_link, self.beta - beta_link
