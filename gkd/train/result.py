"""``FitResult``: a trained model, its logits, scores and history."""
from __future__ import annotations

from dataclasses import dataclass, field

from torch import Tensor, nn

from ..distill.base import Distiller

# the entries of each ``FitResult.history`` record that are not loss terms (``valid_cohort``: every
# model's validation score in a cohort, ``gkd.fit_cohort``)
HISTORY_FIELDS = ("epoch", "valid", "epoch_seconds", "valid_seconds", "valid_cohort")


def loss_terms(record: dict) -> dict[str, float]:
    """The method's weighted loss terms of one epoch's history record."""
    return {k: v for k, v in record.items() if k not in HISTORY_FIELDS}


@dataclass
class FitResult:
    """A trained model at its selected epoch (``TrainConfig.selection``: the best-validation epoch by
    default; ``best_epoch`` names it), with the logits it gives every item. A teacher brought as
    logits alone (``gkd.teacher_from_logits``) has no ``model`` (None); one brought without
    training (``gkd.teacher_from_model``, ``teacher_from_logits``) has ``best_epoch`` -1 and
    ``train_seconds`` 0."""

    model: nn.Module | None
    logits: Tensor
    scores: dict[str, float]
    best_epoch: int
    train_seconds: float
    history: list[dict] = field(default_factory=list)
    from_cache: bool = False
    # the method's own trained parts (projectors), at the same best epoch as ``model``
    distiller: Distiller | None = None
    # the fingerprint of the data it was trained on (``Task.fingerprint(split=False)``); None: not known
    task: str | None = None
