"""RLD: refined logit distillation."""
from __future__ import annotations

from torch import Tensor

from .dkd import DKD
from .losses import binary_kl, masked_softmax_kl
from .registry import register


@register
class RLD(DKD):
    """Sun, Ren, Wang, Wu & Wang, "Knowledge Distillation with Refined Logits" (2024).

    A teacher can be wrong; RLD keeps its logits as they are (no swapping) and refines what is
    learnt from them. With t* = argmax z_t and p = softmax(z / T_a):
    SCD = T_a^2 * KL([p_t(t*), 1 - p_t(t*)] || [p_s(y), 1 - p_s(y)]) — sample confidence: the
    teacher's confidence in its own answer, attached to the student's true class;
    M = {i : z_t[i] >= z_t[y]} (from the teacher only; contains y and every class it ranks at or
    above y); MCD = T^2 * KL(softmax(z_t / T) || softmax(z_s / T)) with the classes in M masked
    out of both — masked correlation: only the ranking below the true class is taught.
    L = CE + min(epoch / W, 1) * (alpha * SCD + beta * MCD). Defaults alpha 1, beta 8, T 4,
    T_a = T, W 20. With a correct teacher and no ties this is exactly DKD. Rows as in gkd's DKD:
    labelled rows with their label and, with ``unlabelled=True``, the other visible rows with the
    teacher's prediction as target (there the teacher is "correct" by construction and RLD is
    DKD); the refinement acts where labels show the teacher wrong.
    """

    name = "rld"
    family = "output"
    term_names = ("scd", "mcd")

    def __init__(self, alpha: float = 1.0, beta: float = 8.0, temperature: float = 4.0,
                 confidence_temperature: float | None = None, warmup_epochs: int = 20, unlabelled: bool = True):
        super().__init__(alpha, beta, temperature, warmup_epochs, unlabelled)
        self.confidence_temperature = temperature if confidence_temperature is None else confidence_temperature

    def knowledge(self, z_s: Tensor, z_t: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
        """Per-row T_a^2 * SCD and T^2 * MCD (DKD's rows, labels and warm-up; refined terms)."""
        T, Ta = self.temperature, self.confidence_temperature
        p_s, p_t = (z_s / Ta).softmax(-1), (z_t / Ta).softmax(-1)
        scd = binary_kl(p_t.max(dim=-1).values, p_s[target])
        at_or_above_true = z_t >= z_t[target].unsqueeze(-1)
        return Ta * Ta * scd, T * T * masked_softmax_kl(z_s, z_t, at_or_above_true, T)
