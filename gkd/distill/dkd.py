"""DKD: decoupled knowledge distillation."""
from __future__ import annotations

from torch import Tensor

from ..outputs import Outputs
from .base import Batch, Distiller
from .losses import binary_kl, label_loss, labelled_targets, masked_softmax_kl, mean_or_zero, one_hot_mask, warmup
from .registry import register


@register
class DKD(Distiller):
    """Zhao, Cui, Song, Qiu & Liang, "Decoupled Knowledge Distillation" (CVPR 2022).

    With p = softmax(z / T), y the label and b = p[y]:
    TCKD = KL([b_t, 1 - b_t] || [b_s, 1 - b_s]) (target-class knowledge),
    NCKD = KL of the softmaxes over the non-target classes (non-target knowledge),
    L = CE + min(epoch / W, 1) * T^2 * (alpha * TCKD + beta * NCKD), averaged over rows.
    Both terms need a target class: labelled rows use their label; with ``unlabelled=True``
    (gkd's choice for transductive node tasks, where few nodes carry labels) the other visible
    rows use the teacher's prediction. Defaults alpha 1, beta 8, T 4, W 20 epochs (the paper's
    CIFAR settings).
    """

    name = "dkd"
    family = "output"
    logits_only = True

    def __init__(self, alpha: float = 1.0, beta: float = 8.0, temperature: float = 4.0, warmup_epochs: int = 20,
                 unlabelled: bool = True):
        super().__init__()
        self.alpha, self.beta, self.temperature, self.warmup_epochs = alpha, beta, temperature, warmup_epochs
        self.unlabelled = unlabelled

    term_names = ("tckd", "nckd")

    def forward(self, student: Outputs, teacher: Outputs | None, batch: Batch) -> dict[str, Tensor]:
        assert teacher is not None
        z_s, z_t, y = labelled_targets(student.logits, teacher.logits, batch.y, batch.labelled, batch.visible,
                                       self.unlabelled)
        first, second = self.knowledge(z_s, z_t, one_hot_mask(y, z_s.size(-1)))
        scale = warmup(batch.epoch, self.warmup_epochs)
        return {
            "ce": label_loss(student.logits, batch),
            self.term_names[0]: scale * self.alpha * mean_or_zero(first),
            self.term_names[1]: scale * self.beta * mean_or_zero(second),
        }

    def knowledge(self, z_s: Tensor, z_t: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
        """Per-row T^2 * TCKD and T^2 * NCKD (``target``: one-hot mask of each row's class)."""
        T = self.temperature
        p_s, p_t = (z_s / T).softmax(-1), (z_t / T).softmax(-1)
        return T * T * binary_kl(p_t[target], p_s[target]), T * T * masked_softmax_kl(z_s, z_t, target, T)
