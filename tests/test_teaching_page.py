"""The teaching page's paired differences, from hand-made records."""
import math

import pytest
from scipy import stats

from benchmarks import teaching


def _record(method, seed, test, teacher="sage2x128", student="mlp2x128", split="cpf-5", **extra):
    return {"status": "ok", "dataset": "cora-lcc", "split": split, "teacher": teacher, "student": student,
            "method": method, "seed": seed, "test": test, "teacher_test": 0.8, **extra}


def test_paired_difference_and_its_interval_by_hand():
    ours, base = {0: 0.80, 1: 0.70, 2: 0.75, 5: 0.9}, {0: 0.78, 1: 0.69, 2: 0.70}
    row = teaching.paired(ours, base)
    diffs = [2.0, 1.0, 5.0]  # seed 5 has no baseline: left out
    mean = sum(diffs) / 3
    sd = math.sqrt(sum((d - mean) ** 2 for d in diffs) / 2)
    half = stats.t.ppf(0.975, 2) * sd / math.sqrt(3)
    assert row["n"] == 3 and row["diff"] == pytest.approx(mean)
    assert row["low"] == pytest.approx(mean - half) and row["high"] == pytest.approx(mean + half)
    assert row["excludes_zero"] is False  # -1.0 .. 7.6 with three seeds
    assert teaching.paired({0: 0.5}, {1: 0.5}) is None


def test_rows_pair_self_and_mutual_methods_with_the_student_alone_and_the_ensemble_with_each_kd():
    records = []
    for seed in range(4):
        records += [_record("none", seed, 0.60 + 0.01 * seed), _record("dml", seed, 0.65 + 0.01 * seed,
                                                                     peer_test=[0.79]),
                    _record("kd", seed, 0.70), _record("kd", seed, 0.72 + 0.001 * seed, teacher="gcn2x64"),
                    _record("ensemble", seed, 0.74 + 0.002 * seed), _record("glnn", seed, 0.7)]
    alone = teaching.against_alone(records)
    assert [r["method"] for r in alone] == ["dml"]  # glnn is taught by a teacher: not in this table
    assert alone[0]["diff"] == pytest.approx(5.0) and alone[0]["excludes_zero"]  # +5 on every seed
    assert alone[0]["peer"] == pytest.approx(79.0) and alone[0]["peer_alone"] == pytest.approx(80.0)
    rows = teaching.ensemble_rows(records)
    assert [r["against"] for r in rows] == ["kd from gcn2x64 (best single)", "kd from sage2x128"]
    assert rows[0]["diff"] == pytest.approx(100 * (0.74 - 0.72) + 100 * 0.001 * 1.5)
    assert rows[0]["excludes_zero"]
    page = teaching.markdown(alone, rows)
    assert "| cora-lcc | cpf-5 | mlp2x128 | dml | mutual | 4 |" in page


def test_one_seed_gives_no_interval_and_excludes_nothing():
    row = teaching.paired({0: 0.80}, {0: 0.70})
    assert row["n"] == 1 and row["excludes_zero"] is False and teaching.interval_text(row) == "-"
