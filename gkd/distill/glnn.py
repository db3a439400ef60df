"""GLNN: graph-less neural networks distilled from a GNN."""
from __future__ import annotations

from torch import Tensor

from ..outputs import Outputs
from .base import Batch, Distiller
from .losses import label_loss, soft_target_kl
from .registry import register


@register
class GLNN(Distiller):
    """Zhang, Liu, Sun & Shah, "Graph-less Neural Networks: Teaching Old MLPs New Tricks via
    Distillation" (ICLR 2022).

    L = lam * CE(z_s, y) on labelled nodes + (1 - lam) * KL(softmax(z_t) || softmax(z_s)) on every
    node the teacher's soft labels exist for (train, validation and test in the transductive
    setting). No temperature; the authors' default lam = 0 (pure distillation).
    """

    name = "glnn"
    family = "output"
    logits_only = True

    def __init__(self, lam: float = 0.0):
        super().__init__()
        if not 0.0 <= lam <= 1.0:
            raise ValueError(f"glnn: lam must lie in [0, 1], got {lam}")
        self.lam = lam

    def terms(self, student_logits: Tensor, teacher_logits: Tensor, batch: Batch) -> dict[str, Tensor]:
        """GLNN's two weighted terms for any student logits (NOSMOG reuses them on perturbed inputs)."""
        v = batch.visible
        ce = label_loss(student_logits, batch)
        kl = soft_target_kl(student_logits[v], teacher_logits[v], 1.0, batch.objective)
        return {"ce": self.lam * ce, "kd": (1.0 - self.lam) * kl}

    def forward(self, student: Outputs, teacher: Outputs | None, batch: Batch) -> dict[str, Tensor]:
        assert teacher is not None
        return self.terms(student.logits, teacher.logits, batch)
