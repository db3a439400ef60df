"""The student alone: the baseline every method is measured against."""
from __future__ import annotations

from torch import Tensor

from ..outputs import Outputs
from .base import Batch, Distiller
from .losses import label_loss
from .registry import register


@register
class NoDistillation(Distiller):
    """No teacher: L = CE(student, labels) on labelled rows."""

    name = "none"
    family = "none"
    logits_only = True
    kinds = ("node", "graph", "image", "link")
    needs_teacher = False
    taught_by = "labels"

    def forward(self, student: Outputs, teacher: Outputs | None, batch: Batch) -> dict[str, Tensor]:
        return {"ce": label_loss(student.logits, batch)}
