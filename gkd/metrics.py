"""Scoring (accuracy, ROC-AUC and AP through OGB's Evaluator for OGB tasks) and calibration:
expected calibration error and the student's calibration relative to its teacher."""
from __future__ import annotations

import os

import torch
from torch import Tensor

from .data.task import Task


def accuracy(logits: Tensor, y: Tensor) -> float:
    if y.numel() == 0:
        return float("nan")
    return float((logits.argmax(dim=-1) == y.view(-1)).float().mean())


def score(task: Task, logits: Tensor, index: Tensor) -> float:
    """The task's metric on the rows ``index`` of ``logits`` (one row per item of the task)."""
    return score_rows(task, logits[index], index)


def score_rows(task: Task, row_logits: Tensor, index: Tensor) -> float:
    """The task's metric for ``row_logits``, the predictions for items ``index`` in that order."""
    logits, y = row_logits.detach().cpu(), task.labels()[index].cpu()
    if task.evaluator is not None:
        return _ogb_score(task, logits, y)
    if task.metric == "accuracy":
        return accuracy(logits, y)
    raise ValueError(f"task {task.name!r}: no scorer for metric {task.metric!r} without an OGB evaluator")


def _ogb_score(task: Task, logits: Tensor, y: Tensor) -> float:
    os.environ.setdefault("OUTDATED_IGNORE", "1")
    evaluator = _evaluator(task.evaluator, task.kind)
    if task.objective == "binary":
        result = evaluator.eval({"y_true": y.view(logits.shape).numpy(), "y_pred": logits.numpy()})
    else:
        pred = logits.argmax(dim=-1, keepdim=True)
        result = evaluator.eval({"y_true": y.view(-1, 1).numpy(), "y_pred": pred.numpy()})
    return float(result[evaluator.eval_metric])


def _evaluator(name: str, kind: str):
    if kind == "graph":
        from ogb.graphproppred import Evaluator
    else:
        from ogb.nodeproppred import Evaluator
    return Evaluator(name)


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


__all__ = ["accuracy", "expected_calibration_error", "predictions_agree", "relative_calibration", "score", "score_rows"]
