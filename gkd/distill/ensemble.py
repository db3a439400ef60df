"""Several teachers: knowledge distillation from a per-item, confidence-weighted ensemble."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import MismatchError
from ..outputs import Outputs
from .base import Batch, Distiller
from .losses import label_loss
from .registry import register

WEIGHTINGS = ("confidence", "mean")


@register
class ConfidenceEnsembleKD(Distiller):
    """Distillation from several cached teachers (``gkd.train_student(task, [t1, t2, t3], ...)``).

    Hinton, Vinyals & Dean, "Distilling the Knowledge in a Neural Network" (2015) distil an
    ensemble's averaged prediction into one model; here the average is taken per item, each
    teacher weighted by how sure it is of that item:

        q_i = sum_k w_ik softmax(z_ik / T),   w_ik = softmax_k(-sharpness * H(softmax(z_ik))),
        L = ce_weight * CE(z_s, y) + kd_weight * T^2 * KL(q || softmax(z_s / T)),

    H the entropy of teacher k's prediction for item i, the KL over the rows whose teacher
    outputs are visible (every node of a transductive node task; labelled rows alone with
    ``unlabelled=False``). ``weighting="mean"`` gives each teacher 1/K (Hinton's ensemble).
    With one teacher, L is exactly Hinton KD (``kd``) with the same options, so the ensemble is
    compared with KD from its best single teacher under one loss. Ours: the entropy weighting
    (per node, needing no label; CA-MKD, Zhang, Chen & Wang, ICASSP 2022, weights teachers per
    sample by their cross-entropy against the label, which exists only on the few labelled nodes
    of a node task), ``sharpness`` (1: w proportional to exp(-H)); defaults as ``kd``'s.
    Multiclass tasks.
    """

    name = "ensemble"
    family = "output"
    taught_by = "ensemble"
    logits_only = True

    def __init__(self, temperature: float = 4.0, ce_weight: float = 1.0, kd_weight: float = 1.0,
                 weighting: str = "confidence", sharpness: float = 1.0, unlabelled: bool = True):
        super().__init__()
        if weighting not in WEIGHTINGS:
            raise ValueError(f"ensemble: unknown weighting {weighting!r}; valid weightings: {', '.join(WEIGHTINGS)}")
        if temperature <= 0:
            raise ValueError(f"ensemble: temperature must be positive, got {temperature}")
        if sharpness < 0:
            raise ValueError(f"ensemble: sharpness must be >= 0, got {sharpness}")
        self.temperature, self.ce_weight, self.kd_weight = temperature, ce_weight, kd_weight
        self.weighting, self.sharpness, self.unlabelled = weighting, sharpness, unlabelled

    def prepare(self, *, task, student: nn.Module, teacher, teacher_logits) -> None:
        if task.objective != "multiclass":
            raise MismatchError(f"method 'ensemble' weighs teachers by the entropy of their class distributions: "
                                f"multiclass tasks only, and task {task.name!r} is {task.objective}; distil from "
                                f"one teacher with 'kd' or 'glnn'")

    def weights(self, teacher_logits: list[Tensor]) -> Tensor:
        """w[k, i]: teacher k's weight on row i (columns sum to 1 over the teachers)."""
        z = torch.stack([t.detach() for t in teacher_logits])  # [K, rows, classes]
        if self.weighting == "mean":
            return torch.full(z.shape[:2], 1.0 / z.size(0), device=z.device)
        log_p = F.log_softmax(z, dim=-1)
        entropy = -(log_p.exp() * log_p).sum(dim=-1)
        return torch.softmax(-self.sharpness * entropy, dim=0)

    def target(self, teacher_logits: list[Tensor]) -> Tensor:
        """q: the weighted mixture of the teachers' softened distributions, one row per item."""
        z = torch.stack([t.detach() for t in teacher_logits])
        return (self.weights(teacher_logits).unsqueeze(-1) * torch.softmax(z / self.temperature, dim=-1)).sum(dim=0)

    def forward(self, student: Outputs, teacher: list[Outputs] | None, batch: Batch) -> dict[str, Tensor]:
        assert teacher, "the trainer hands an ensemble method every teacher's outputs"
        rows = batch.visible if self.unlabelled else batch.labelled
        T = self.temperature
        z_s = student.logits[rows]
        q = self.target([t.logits[rows] for t in teacher])
        if z_s.size(0) == 0:
            kl = z_s.sum() * 0.0
        else:
            kl = F.kl_div(F.log_softmax(z_s / T, dim=-1), q, reduction="batchmean")
        return {"ce": self.ce_weight * label_loss(student.logits, batch), "kd": self.kd_weight * T * T * kl}
