"""Loss pieces shared by the distillation methods."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def supervised_loss(logits: Tensor, y: Tensor, objective: str) -> Tensor:
    """Cross-entropy (multiclass) or binary cross-entropy over labelled entries (binary; NaN
    targets are unlabelled, as in OGB). Zero when there is nothing labelled."""
    if objective == "binary":
        y = y.view_as(logits).float()
        known = ~torch.isnan(y)
        if not known.any():
            return logits.sum() * 0.0
        return F.binary_cross_entropy_with_logits(logits[known], y[known])
    if logits.size(0) == 0:
        return logits.sum() * 0.0
    return F.cross_entropy(logits, y.view(-1).long())


def soft_target_kl(student_logits: Tensor, teacher_logits: Tensor, temperature: float, objective: str) -> Tensor:
    """KL(teacher_T || student_T), averaged over rows ("batchmean"); for ``binary`` objectives the
    mean over entries of the Bernoulli KL. No T^2 factor here: callers scale as their paper does."""
    if student_logits.size(0) == 0:
        return student_logits.sum() * 0.0
    s, t = student_logits / temperature, teacher_logits.detach() / temperature
    if objective == "binary":
        p = torch.sigmoid(t)
        log_q1, log_q0 = F.logsigmoid(s), F.logsigmoid(-s)
        log_p1, log_p0 = F.logsigmoid(t), F.logsigmoid(-t)
        return (p * (log_p1 - log_q1) + (1 - p) * (log_p0 - log_q0)).mean()
    return F.kl_div(F.log_softmax(s, dim=-1), F.log_softmax(t, dim=-1), reduction="batchmean", log_target=True)
