"""Calibration metrics against hand computations."""
import time

import pytest
import torch

from gkd.metrics import expected_calibration_error, relative_calibration


def _logits_for(probs):
    return torch.tensor(probs).log()


def test_ece_by_hand():
    # confidences 0.9 (right), 0.9 (wrong), 0.6 (right), 0.55 (wrong). 15 bins of width 1/15:
    # 0.9 lies in (13/15, 14/15], 0.6 and 0.55 both in (8/15, 9/15]
    probs = [[0.9, 0.1], [0.1, 0.9], [0.6, 0.4], [0.45, 0.55]]
    y = torch.tensor([0, 0, 0, 0])
    # bin A: {0.9 right, 0.9 wrong}: |0.5 - 0.9| * 2/4 = 0.2 ; bin B: {0.6 right, 0.55 wrong}: |0.5 - 0.575| * 2/4
    expected = 0.2 + abs(0.5 - 0.575) * 0.5
    assert expected_calibration_error(_logits_for(probs), y) == pytest.approx(expected, rel=1e-5)


def test_ece_is_zero_for_a_perfectly_calibrated_sure_model():
    logits = torch.tensor([[20.0, 0.0], [0.0, 20.0]])
    assert expected_calibration_error(logits, torch.tensor([0, 1])) == pytest.approx(0.0, abs=1e-6)


def test_relative_calibration_splits_over_and_under_confidence():
    teacher = _logits_for([[0.7, 0.3], [0.2, 0.8]])  # teacher's classes: 0, 1
    student = _logits_for([[0.9, 0.1], [0.5, 0.5]])  # gaps: +0.2, -0.3
    result = relative_calibration(student, teacher)
    assert result["over"] == pytest.approx(0.1, abs=1e-6)
    assert result["under"] == pytest.approx(0.15, abs=1e-6)
    assert result["gap"] == pytest.approx(0.25, abs=1e-6)


def test_median_seconds_repeats_fast_calls_and_stops_slow_ones():
    from benchmarks.timing import median_seconds

    calls = []
    assert median_seconds(lambda: calls.append(1), repeats=5, warmup=1) >= 0
    assert len(calls) == 6  # one warm-up, five timed
    slow = []
    median_seconds(lambda: slow.append(time.sleep(0.05)), repeats=5, warmup=1, budget=0.08)
    assert len(slow) == 3  # warm-up, then timing stops once 0.08 s are spent (after two calls)
