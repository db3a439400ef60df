"""Calibration: expected calibration error and the student's calibration relative to its
teacher; agreement of two models' predictions."""
from __future__ import annotations

import torch
from torch import Tensor


def expected_calibration_error(logits: Tensor, y: Tensor, bins: int = 15) -> float:
    """ECE (Guo et al., ICML 2017): confidence = the top softmax probability; predictions fall
    into ``bins`` equal-width confidence bins on (0, 1]; ECE = sum over bins of
    (share of predictions in the bin) * |accuracy in the bin - mean confidence in the bin|."""
    if y.numel() == 0:
        return float("nan")
    probs = logits.detach().float().softmax(dim=-1)
    confidence, predicted = probs.max(dim=-1)
    correct = (predicted == y.view(-1)).float()
    which = (confidence * bins).ceil().clamp(1, bins).long() - 1
    conf_sum = torch.zeros(bins).index_add_(0, which, confidence)
    correct_sum = torch.zeros(bins).index_add_(0, which, correct)
    return float(((conf_sum - correct_sum).abs()).sum() / y.numel())


def relative_calibration(student_logits: Tensor, teacher_logits: Tensor) -> dict[str, float]:
    """The student's confidence relative to its teacher's, after Lamb et al., "Faithful Knowledge
    Distillation" (2023): per row, gap = p_S(k) - p_T(k) with k the teacher's predicted class.
    Returns ``gap`` (mean |gap|), ``over`` (mean of the positive parts: the student is more sure
    than the teacher) and ``under`` (mean of the negative parts); gap = over + under."""
    k = teacher_logits.argmax(dim=-1, keepdim=True)
    p_s = student_logits.detach().softmax(-1).gather(-1, k)
    p_t = teacher_logits.detach().softmax(-1).gather(-1, k)
    diff = (p_s - p_t).view(-1)
    if diff.numel() == 0:
        return {"gap": float("nan"), "over": float("nan"), "under": float("nan")}
    over, under = diff.clamp(min=0).mean().item(), (-diff).clamp(min=0).mean().item()
    return {"gap": over + under, "over": over, "under": under}


def predictions_agree(a: Tensor, b: Tensor) -> float:
    """Share of rows where two models predict the same class (argmax)."""
    return float((a.argmax(-1) == b.argmax(-1)).float().mean()) if a.numel() else float("nan")


__all__ = ["expected_calibration_error", "predictions_agree", "relative_calibration"]
