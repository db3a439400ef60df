"""The projector recipe: linear projector, batch normalisation, LogSum distance."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..outputs import Outputs
from .base import Batch
from .losses import label_loss, soft_target_kl
from .registry import register
from .representation import Pairing, RepresentationDistiller

DISTANCES = ("logsum", "mse")


def batch_standardise(h: Tensor, eps: float = 1e-4) -> Tensor:
    """Batch normalisation without affine parameters, always with the batch's own statistics."""
    return F.batch_norm(h, None, None, training=True, eps=eps)


def log_sum_distance(a: Tensor, b: Tensor, alpha: float = 4.0) -> Tensor:
    """log(sum over rows and dims of |a - b|^alpha): a soft maximum over coordinates, driven by
    the worst-matched ones."""
    return (a - b).abs().pow(alpha).sum().log()


@register
class SRD(RepresentationDistiller):
    """Miles & Mikolajczyk, "Understanding the Role of the Projector in Knowledge Distillation"
    (AAAI 2024).

    Student representation h_s -> linear projector W h_s + b -> affine-free BatchNorm (batch
    statistics, eps 1e-4); teacher representation h_t -> its own affine-free BatchNorm;
    L_feat = log(sum over rows and dims of |BN(W h_s + b) - BN(h_t)|^alpha), alpha = 4;
    L = CE + feat_weight * L_feat + kd_weight * KL(softmax(z_t) || softmax(z_s)) (T = 1);
    defaults feat_weight 2, kd_weight 1 (the paper's). ``normalise=False`` drops both
    BatchNorms and ``distance="mse"`` replaces LogSum by the mean squared error (the paper's
    ablations). Without normalisation the projector tends to collapse (its singular values
    shrink); the normalisation prevents it.
    """

    name = "srd"

    def __init__(self, feat_weight: float = 2.0, kd_weight: float = 1.0, alpha: float = 4.0,
                 normalise: bool = True, distance: str = "logsum", pairs: Pairing = "last", level: str = "auto"):
        super().__init__(pairs, level)
        if distance not in DISTANCES:
            raise ValueError(f"srd: unknown distance {distance!r}; valid distances: {', '.join(DISTANCES)}")
        self.feat_weight, self.kd_weight, self.alpha = feat_weight, kd_weight, alpha
        self.normalise, self.distance = normalise, distance

    def make_bridge(self, student_dim: int, teacher_dim: int) -> nn.Module:
        return nn.Linear(student_dim, teacher_dim)  # always a projector, even for equal widths

    def pair_loss(self, h_s: Tensor, h_t: Tensor, bridge: nn.Module, batch: Batch) -> Tensor:
        z_s, z_t = bridge(h_s), h_t
        if self.normalise:
            z_s, z_t = batch_standardise(z_s), batch_standardise(z_t)
        if self.distance == "mse":
            return F.mse_loss(z_s, z_t)
        return log_sum_distance(z_s, z_t, self.alpha)

    def forward(self, student: Outputs, teacher: Outputs | None, batch: Batch) -> dict[str, Tensor]:
        assert teacher is not None
        v = batch.visible
        return {"ce": label_loss(student.logits, batch),
                "feat": self.feat_weight * self.representation_loss(student, teacher, batch),
                "kd": self.kd_weight * soft_target_kl(student.logits[v], teacher.logits[v], 1.0, batch.objective)}


def singular_values(projector: nn.Linear) -> Tensor:
    """The projector weight's singular values (to watch for collapse)."""
    return torch.linalg.svdvals(projector.weight.detach())
