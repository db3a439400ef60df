"""Measurement beyond accuracy: scores (OGB's Evaluator where the task is OGB's), calibration
(ECE, relative to the teacher) and faithfulness of the student to its teacher near the data."""
from __future__ import annotations

from .calibration import expected_calibration_error, predictions_agree, relative_calibration
from .faithfulness import confidence_gap, faithful_share, ibp_gap, pgd_gap
from .links import hits_at, link_scores, mrr, split_link_scores
from .scores import accuracy, score, score_rows

__all__ = ["accuracy", "confidence_gap", "expected_calibration_error", "faithful_share", "hits_at", "ibp_gap",
           "link_scores", "mrr", "pgd_gap", "split_link_scores",
           "predictions_agree", "relative_calibration", "score", "score_rows"]
