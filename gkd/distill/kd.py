"""Hinton knowledge distillation."""
from __future__ import annotations

from torch import Tensor

from ..outputs import Outputs
from .base import Batch, Distiller
from .losses import label_loss, soft_target_kl
from .registry import register


@register
class HintonKD(Distiller):
    """Hinton, Vinyals & Dean, "Distilling the Knowledge in a Neural Network" (2015).

    L = ce_weight * CE(z_s, y) + kd_weight * T^2 * KL(softmax(z_t / T) || softmax(z_s / T)),
    CE on labelled rows, KL on rows whose teacher output is visible (with ``unlabelled=False``,
    on labelled rows only, as in supervised image classification). Defaults T = 4 and unit
    weights; the graph-KD papers' alpha = 0.9 is ``ce_weight=0.1, kd_weight=0.9``.
    On a link task the rows are the step's node pairs (its edges and sampled non-edges) and the
    logits edge scores: the KL is the Bernoulli one between the teacher's and the student's edge
    probabilities (KD on edge scores; LLP's logit-matching baseline is an MSE of the two).
    """

    name = "kd"
    family = "output"
    logits_only = True
    kinds = ("node", "graph", "image", "link")

    def __init__(self, temperature: float = 4.0, ce_weight: float = 1.0, kd_weight: float = 1.0,
                 unlabelled: bool = True):
        super().__init__()
        self.temperature, self.ce_weight, self.kd_weight = temperature, ce_weight, kd_weight
        self.unlabelled = unlabelled

    def forward(self, student: Outputs, teacher: Outputs | None, batch: Batch) -> dict[str, Tensor]:
        assert teacher is not None
        T = self.temperature
        v = batch.visible if self.unlabelled else batch.labelled
        ce = label_loss(student.logits, batch)
        kl = soft_target_kl(student.logits[v], teacher.logits[v], T, batch.objective)
        return {"ce": self.ce_weight * ce, "kd": self.kd_weight * T * T * kl}
