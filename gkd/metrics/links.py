"""Link prediction scores as OGB's link Evaluator computes them (``ogb.linkproppred``), on gkd's
own code: Hits@K, a positive pair counted when it scores above the K-th best negative; MRR, the
mean reciprocal rank of each positive among its negatives, ties counted half (OGB's mean of the
optimistic and the pessimistic rank). Sets whose positives share one pool of negatives (Cora,
ogbl-collab, ogbl-ppa) rank each positive against the whole pool; sets with negatives per
positive (ogbl-citation2, ``pair_query``) against its own."""
from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor

if TYPE_CHECKING:
    from ..data.task import Task

HITS_AT = (10, 20, 50, 100)
"""The K of the Hits@K reported beside a link task's own metric."""


def hits_at(positive: Tensor, negative: Tensor, k: int) -> float:
    """Share of ``positive`` scores above the ``k``-th highest ``negative`` score (1.0 when there
    are fewer than ``k`` negatives, as OGB's Evaluator returns)."""
    if positive.numel() == 0 or negative.numel() == 0:  # nothing to rank (a split of edges alone)
        return float("nan")
    if negative.numel() < k:
        return 1.0
    kth = torch.topk(negative.view(-1), k).values[-1]
    return float((positive.view(-1) > kth).float().mean())


def reciprocal_ranks(positive: Tensor, negative: Tensor) -> Tensor:
    """1 / rank of each positive: against the row of ``negative`` of its own (``negative`` n x m),
    or against every negative (``negative`` 1-D). The rank is 1 + the mean of the negatives
    scoring above it and of those scoring at least as high."""
    positive = positive.view(-1).double()
    if negative.dim() == 2:
        above = (negative.double() > positive[:, None]).sum(1)
        at_least = (negative.double() >= positive[:, None]).sum(1)
    else:
        pool = negative.double().sort().values
        above = pool.numel() - torch.searchsorted(pool, positive, right=True)
        at_least = pool.numel() - torch.searchsorted(pool, positive, right=False)
    return 1.0 / (0.5 * (above + at_least).double() + 1.0)


def mrr(positive: Tensor, negative: Tensor) -> float:
    """Mean reciprocal rank (``reciprocal_ranks``)."""
    if positive.numel() == 0:
        return float("nan")
    return float(reciprocal_ranks(positive, negative).mean())


def grouped(scores: Tensor, labels: Tensor, query: Tensor | None) -> tuple[Tensor, Tensor]:
    """A split's positive scores and its negatives: one pool (1-D), or, when every negative names
    its positive (``query`` >= 0), one row per positive (n x m, each positive with m negatives)."""
    scores, labels = scores.view(-1).float(), labels.view(-1)
    positive, negative = scores[labels == 1], scores[labels == 0]
    if query is None or bool((query < 0).any()):
        return positive, negative
    owner = query[labels == 0]
    counts = torch.bincount(owner, minlength=positive.numel())
    if positive.numel() == 0 or bool((counts != counts[0]).any()):
        raise ValueError("every positive of an MRR split needs the same number of negatives of its own")
    return positive, negative[owner.argsort(stable=True)].view(positive.numel(), -1)


def link_scores(scores: Tensor, labels: Tensor, query: Tensor | None = None) -> dict[str, float]:
    """Hits@K for each K of ``HITS_AT`` and MRR of one split's pair ``scores``. Hits@K with
    negatives per positive counts a positive above its own K-th negative (OGB's per-query
    ``hits@K`` of ogbl-citation2)."""
    positive, negative = grouped(scores, labels, query)
    out: dict[str, float] = {}
    for k in HITS_AT:
        if negative.dim() == 2:
            rank = 1.0 / reciprocal_ranks(positive, negative)
            out[f"hits@{k}"] = float((rank <= k).float().mean()) if positive.numel() else float("nan")
        else:
            out[f"hits@{k}"] = hits_at(positive, negative, k)
    out["mrr"] = mrr(positive, negative)
    return out


def link_metric(metric: str, scores: Tensor, labels: Tensor, query: Tensor | None = None) -> float:
    """One named metric (``hits@K`` for any K, or ``mrr``) of a split's pair scores."""
    positive, negative = grouped(scores, labels, query)
    if metric == "mrr":
        return mrr(positive, negative)
    if metric.startswith("hits@") and metric[5:].isdigit():
        k = int(metric[5:])
        if negative.dim() == 2:
            return float(((1.0 / reciprocal_ranks(positive, negative)) <= k).float().mean())
        return hits_at(positive, negative, k)
    raise ValueError(f"unknown link metric {metric!r}; valid: hits@K (for a number K) or mrr")


def split_link_scores(task: "Task", logits: Tensor) -> dict[str, dict[str, float]]:
    """``link_scores`` of every split of a link task but ``train`` (whose pairs are all edges),
    from ``logits`` over all of its pairs (``gkd.predict``)."""
    query = task.optional("pair_query")
    labels = task.labels()
    return {name: link_scores(logits[index], labels[index], None if query is None else query[index])
            for name, index in task.split.items() if name != "train"}
