"""Scoring: accuracy, ROC-AUC, AP or accuracy through OGB's Evaluator for OGB tasks, and Hits@K or
MRR for link tasks (``gkd.metrics.links``)."""
from __future__ import annotations

import os

from torch import Tensor

from ..data.task import Task
from .links import link_metric


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
    if task.kind == "link":
        query = task.optional("pair_query")
        return link_metric(task.metric, logits, y, None if query is None else query[index])
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


__all__ = ["accuracy", "score", "score_rows"]
