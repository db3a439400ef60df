"""RKD: relational knowledge distillation over the samples of a batch."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..outputs import Outputs
from .base import Batch
from .losses import label_loss
from .registry import register
from .representation import Pairing, RepresentationDistiller, sample_pair


def pair_distances(h: Tensor) -> Tensor:
    """psi_D: Euclidean distances between all pairs of rows, divided by their mean over the
    off-diagonal pairs (so the two sides' scales need not match)."""
    d = torch.cdist(h, h)
    n = h.size(0)
    mean = d.sum() / max(n * (n - 1), 1)
    return d / mean.clamp_min(1e-12)


def triplet_angles(h: Tensor) -> Tensor:
    """psi_A: cos of the angle at j between i and k, cos = <e_ij, e_kj> with
    e_ij = (h_i - h_j) / ||h_i - h_j||, for every triplet (n^3 entries, indexed [j, i, k]); 0
    where i or k coincides with j (a zero difference has no direction).

    Computed from the Gram matrix G of the centred rows (angles do not move with a translation):
    <h_i - h_j, h_k - h_j> = G_ik - G_ij - G_jk + G_jj, divided by the two distances, which are
    taken from the differences themselves (exact for coincident rows). That is n^2 d + n^3 work
    instead of the n^3 d of forming the n^2 unit differences and their products."""
    c = h - h.mean(0, keepdim=True)
    g = c @ c.t()
    dist = (c.unsqueeze(0) - c.unsqueeze(1)).norm(dim=-1)  # dist[j, i] = ||h_i - h_j||
    inner = g.unsqueeze(0) - g.unsqueeze(2) - g.unsqueeze(1) + g.diagonal().view(-1, 1, 1)
    apart = dist > 1e-12
    scale = torch.where(apart, 1.0 / dist.clamp_min(1e-12), torch.zeros_like(dist))
    return inner * scale.unsqueeze(2) * scale.unsqueeze(1)


def rkd_terms(h_s: Tensor, h_t: Tensor) -> tuple[Tensor, Tensor]:
    """(distance, angle): Huber (smooth L1, threshold 1) between the student's and the teacher's
    psi_D and psi_A, averaged over entries. Widths may differ: only relations are compared."""
    with torch.no_grad():
        d_t, a_t = pair_distances(h_t), triplet_angles(h_t)
    return F.smooth_l1_loss(pair_distances(h_s), d_t), F.smooth_l1_loss(triplet_angles(h_s), a_t)


@register
class RKD(RepresentationDistiller):
    """Park, Kim, Lu & Cho, "Relational Knowledge Distillation" (CVPR 2019): the instance
    relationship graph, whose nodes are the batch's samples (images, graphs, or nodes of a node
    task) and whose edges carry distances and angles.

    On up to ``max_rows`` sampled rows of the paired representations (pooled per image or
    graph; the last hidden layer per node): L = CE on labelled rows
    + distance_weight * Huber(psi_D(h_s), psi_D(h_t)) + angle_weight * Huber(psi_A(h_s), psi_A(h_t)),
    psi_D the pair distances over their mean, psi_A the cosines of all triplet angles. Weights 25
    and 50 (the paper's). The angle term is O(n^3) in memory: ``max_rows`` 128 bounds it
    (128^3 = 2M entries). No projector: relations are width-free.
    """

    name = "rkd"
    family = "constructed"

    def __init__(self, distance_weight: float = 25.0, angle_weight: float = 50.0, max_rows: int = 128,
                 pairs: Pairing = "last", level: str = "auto"):
        super().__init__(pairs, level)
        if max_rows < 3:
            raise ValueError(f"rkd: max_rows must be at least 3 (angles need triplets), got {max_rows}")
        self.distance_weight, self.angle_weight, self.max_rows = distance_weight, angle_weight, max_rows

    def make_bridge(self, student_dim: int, teacher_dim: int) -> nn.Module:
        return nn.Identity()

    def pair_loss(self, h_s: Tensor, h_t: Tensor, bridge: nn.Module, batch: Batch) -> Tensor:
        if h_s.size(0) < 3:
            return h_s.sum() * 0.0
        distance, angle = rkd_terms(*sample_pair(h_s, h_t, self.max_rows))
        return self.distance_weight * distance + self.angle_weight * angle

    def forward(self, student: Outputs, teacher: Outputs | None, batch: Batch) -> dict[str, Tensor]:
        assert teacher is not None
        return {"ce": label_loss(student.logits, batch),
                "rkd": self.representation_loss(student, teacher, batch)}
