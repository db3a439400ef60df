"""The student alone: the baseline every method is measured against."""
from __future__ import annotations

from torch import Tensor

from ..outputs import Outputs
from .base import Batch, Distiller
from .losses import supervised_loss
from .registry import register


@register
class NoDistillation(Distiller):
    """No teacher: L = CE(student, labels) on labelled rows."""

    name = "none"
    family = "none"
    logits_only = True
    needs_teacher = False

    def forward(self, student: Outputs, teacher: Outputs | None, batch: Batch) -> dict[str, Tensor]:
        m = batch.labelled
        return {"ce": supervised_loss(student.logits[m], batch.y[m], batch.objective)}
