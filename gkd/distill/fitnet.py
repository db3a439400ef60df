"""FitNet: hints from the teacher's hidden layers."""
from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from ..outputs import Outputs
from .base import Batch
from .losses import label_loss
from .registry import register
from .representation import Pairing, RepresentationDistiller


@register
class FitNet(RepresentationDistiller):
    """Romero, Ballas, Kahou, Chassang, Gatta & Bengio, "FitNets: Hints for Thin Deep Nets"
    (ICLR 2015).

    L = CE(z_s, y) + weight * mean over pairs of MSE(r(h_s), h_t), with r a learnable linear
    regressor when the widths differ (the identity when they match); trained jointly with the
    label term (one stage, as graph-KD re-runs do, not the paper's two-stage schedule). Pairs:
    see ``gkd.distill.representation`` (default: last hidden layer to last hidden layer).
    """

    name = "fitnet"

    def __init__(self, weight: float = 1.0, pairs: Pairing = "last", level: str = "auto"):
        super().__init__(pairs, level)
        self.weight = weight

    def pair_loss(self, h_s: Tensor, h_t: Tensor, bridge: nn.Module, batch: Batch) -> Tensor:
        return F.mse_loss(bridge(h_s), h_t)

    def forward(self, student: Outputs, teacher: Outputs | None, batch: Batch) -> dict[str, Tensor]:
        assert teacher is not None
        return {"ce": label_loss(student.logits, batch),
                "hint": self.weight * self.representation_loss(student, teacher, batch)}
