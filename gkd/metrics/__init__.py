"""Measurement beyond accuracy: scores (OGB's Evaluator where the task is OGB's), calibration
(ECE, relative to the teacher) and faithfulness of the student to its teacher near the data."""
from __future__ import annotations

from .calibration import expected_calibration_error, predictions_agree, relative_calibration
from .faithfulness import confidence_gap, faithful_share, ibp_gap, pgd_gap
from .scores import accuracy, score, score_rows

__all__ = ["accuracy", "confidence_gap", "expected_calibration_error", "faithful_share", "ibp_gap", "pgd_gap",
           "predictions_agree", "relative_calibration", "score", "score_rows"]
