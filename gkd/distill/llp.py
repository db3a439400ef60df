"""LLP: relational distillation of a GNN link predictor into an MLP."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import MismatchError
from ..graph.walks import csr, random_walks
from ..outputs import Outputs
from .base import Batch, Distiller
from .losses import label_loss
from .registry import register


def rank_loss(student: Tensor, teacher: Tensor, margin: float) -> Tensor:
    """LLP's rank-based matching: for every anchor (row) and every pair of its context nodes (i
    < j), the teacher's order of the two scores, +1 when ``teacher_i > teacher_j + margin``, -1
    when ``teacher_i < teacher_j - margin``, else 0, taught by a margin ranking loss
    ``max(0, -order * (student_i - student_j) + margin)``, averaged over every anchor and pair
    (the pairs the teacher leaves unordered add the constant ``margin``, as in the authors' use of
    ``nn.MarginRankingLoss``)."""
    first, second = torch.triu_indices(student.size(1), student.size(1), offset=1, device=student.device)
    t_i, t_j = teacher[:, first], teacher[:, second]
    order = (t_i > t_j + margin).to(student.dtype) - (t_i < t_j - margin).to(student.dtype)
    return F.margin_ranking_loss(student[:, first], student[:, second], order, margin=margin)


def distribution_loss(student: Tensor, teacher: Tensor, temperature: float) -> Tensor:
    """LLP's distribution-based matching: per anchor, KL(softmax(teacher / T) || softmax(student
    / T)) over its context nodes, times T^2, averaged over anchors (the authors' ``kl_loss``)."""
    log_s = F.log_softmax(student / temperature, dim=-1)
    log_t = F.log_softmax(teacher.detach() / temperature, dim=-1)
    return F.kl_div(log_s, log_t, reduction="batchmean", log_target=True) * temperature**2


@register
class LLP(Distiller):
    """Guo, Shiao, Zhang, Liu, Chawla, Shah & Zhao, "Linkless Link Prediction via Relational
    Distillation" (ICML 2023). A link predictor taught by a GNN link predictor through the
    relations around each anchor node: for anchor a and its context nodes c_1..c_C (``walks``
    random walks of ``hops`` steps from a, and ``random_rate`` times as many uniformly drawn nodes),
    both models score the pairs (a, c_k) with their own encoder and decoder (p = sigmoid of the
    pair logit), and

        L = label_weight * BCE(edges and sampled non-edges)
            + rank_weight * rank_loss(p_s, p_t, margin)
            + distribution_weight * T^2 KL(softmax(p_t / T) || softmax(p_s / T)).

    Read from the authors' code (snap-research/linkless-link-prediction, ``src/main.py``,
    ``train``): anchors are the batch's share of the seen nodes (the trainer's ``data.anchors``,
    LLP's node loader beside its link loader); the context is ``nb`` sampling (the first walk's
    nodes, then each further walk's); the random context nodes are drawn from all seen nodes and
    may repeat; both matchings read the scores after the sigmoid, as the code's predictor
    returns them, and the distribution's temperature is 1; the label term is the BCE of the
    step's edges and as many sampled non-edges. The defaults are the code's argparse defaults
    (``--True_label 0.1`` is ``label_weight``), and each dataset's swept values are in the
    benchmark protocols. Ours: the teacher's decoder runs in eval mode (the authors' teacher
    predictor stays in train mode, so its dropout is active while it teaches), as its encoder
    (the node embeddings are computed once on the training graph, as the authors save theirs);
    the representation-matching and
    logit-matching baselines of their code are not part of this method (``kd`` matches edge
    scores)."""

    name = "llp"
    family = "constructed"
    kinds = ("link",)

    def __init__(self, label_weight: float = 0.1, rank_weight: float = 1.0, distribution_weight: float = 1.0,
                 margin: float = 0.1, walks: int = 3, hops: int = 2, random_rate: int = 1, temperature: float = 1.0):
        super().__init__()
        for option, value in (("walks", walks), ("hops", hops)):
            if value < 1:
                raise ValueError(f"llp: {option} must be at least 1, got {value}")
        if random_rate < 0 or margin < 0 or temperature <= 0:
            raise ValueError(f"llp: random_rate and margin must be >= 0 and temperature > 0, got {random_rate}, "
                             f"{margin}, {temperature}")
        self.label_weight, self.rank_weight, self.distribution_weight = label_weight, rank_weight, distribution_weight
        self.margin, self.walks, self.hops, self.random_rate, self.temperature = (margin, walks, hops, random_rate,
                                                                                  temperature)
        self._models: tuple[nn.Module, nn.Module] | None = None
        self._graph: tuple[Tensor, Tensor, Tensor] | None = None

    @property
    def context_size(self) -> int:
        """Context nodes per anchor: ``walks * hops`` near ones and ``random_rate`` times as many drawn at random."""
        return self.walks * self.hops * (1 + self.random_rate)

    def prepare(self, *, task, student, teacher, teacher_logits) -> None:
        for role, model in (("student", student), ("teacher", teacher)):
            if not callable(getattr(model, "score", None)):
                raise MismatchError(f"llp scores node pairs with each model's own decoder; the {role} "
                                    f"{type(model).__name__} has none: build it for the link task "
                                    f"(gkd.models.build(name, link_task))")
        self._models = (student, teacher)
        n = int(task.data.num_nodes)
        rowptr, col = csr(task.data.edge_index, n)
        self._graph = (rowptr, col, task.seen_nodes())

    def context(self, anchors: Tensor) -> Tensor:
        """(A, C) context nodes of each anchor (ids of the task's graph): ``walks`` walks of
        ``hops`` steps on the training graph (their nodes after the anchor, walk after walk),
        then the randomly drawn seen nodes."""
        rowptr, col, nodes = self._graph
        starts = anchors.cpu()
        near = torch.cat([random_walks(rowptr, col, starts, self.hops)[:, 1:] for _ in range(self.walks)], dim=1)
        far = nodes[torch.randint(nodes.numel(), (starts.numel(), near.size(1) * self.random_rate))]
        return torch.cat([near, far], dim=1).to(anchors.device)

    def link_context(self, anchors: Tensor) -> Tensor:
        return self.context(anchors)

    def forward(self, student: Outputs, teacher: Outputs | None, batch: Batch) -> dict[str, Tensor]:
        assert teacher is not None and self._models is not None, "llp: prepare() was not called"
        student_model, teacher_model = self._models
        # drawn by the trainer before the step (``link_context``), numbered as the step's graph
        anchors, context = batch.data.anchors, batch.data.context
        s_r = self._context_scores(student_model, student.embeddings, anchors, context)
        with torch.no_grad():
            t_r = self._context_scores(teacher_model, teacher.embeddings, anchors, context)
        terms = {"ce": self.label_weight * label_loss(student.logits, batch)}
        if self.rank_weight:
            terms["llp_rank"] = self.rank_weight * rank_loss(s_r, t_r, self.margin)
        if self.distribution_weight:
            terms["llp_dist"] = self.distribution_weight * distribution_loss(s_r, t_r, self.temperature)
        return terms

    @staticmethod
    def _context_scores(model: nn.Module, embeddings: Tensor, anchors: Tensor, context: Tensor) -> Tensor:
        """(A, C) probabilities that each anchor links to each of its context nodes."""
        anchor = embeddings[anchors].unsqueeze(1).expand(-1, context.size(1), -1)
        return torch.sigmoid(model.score(anchor, embeddings[context])).squeeze(-1)
