"""Plots from hand-made summary rows and run records: each is a real, non-blank PNG."""
from __future__ import annotations

import sys

import pytest
from matplotlib import image  # the plot extra is installed wherever the tests run (CI included)

from benchmarks import plots

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
TEACHER = {"cora": (80.0, 1.0, 40.0), "ogbn-arxiv": (71.0, 0.3, 900.0)}  # mean, std, ms


def row(dataset: str, student: str, method: str, test: float, student_ms: float) -> dict:
    teacher_mean, teacher_std, teacher_ms = TEACHER[dataset]
    return {"dataset": dataset, "teacher": "sage2x128", "student": student, "method": method, "runs": 3,
            "test_mean": test, "test_std": 1.2, "teacher_mean": teacher_mean, "teacher_std": teacher_std,
            "gap_closed": None, "student_ms": student_ms, "teacher_ms": teacher_ms,
            "speedup": teacher_ms / student_ms, "train_s": 2.0, "metric": "accuracy"}


ROWS = [
    row("cora", "mlp2x128", "none", 58.0, 2.0), row("cora", "mlp2x128", "kd", 74.0, 2.0),
    row("cora", "mlp2x128", "glnn", 79.0, 2.0), row("cora", "gcn2x64", "none", 78.0, 40.0),
    row("cora", "gcn2x64", "glnn", 80.5, 40.0),
    row("ogbn-arxiv", "mlp3x256", "none", 55.0, 45.0), row("ogbn-arxiv", "mlp3x256", "kd", 60.0, 45.0),
    row("ogbn-arxiv", "mlp3x256", "glnn", 63.0, 45.0),
]


def record(dataset: str, student: str, method: str, seed: int, final: float, epochs: int = 5) -> dict:
    curve = [[e, 1.0 / (e + 1), final * (1 - 0.5 ** (e + 1)) + 0.01 * seed] for e in range(epochs)]
    return {"dataset": dataset, "teacher": "sage2x128", "student": student, "method": method, "seed": seed,
            "status": "ok", "test": final, "metric": "accuracy", "curve": curve}


RECORDS = [record(d, s, m, seed, final)
           for d, s in (("cora", "mlp2x128"), ("ogbn-arxiv", "mlp3x256"))
           for m, final in (("none", 0.55), ("kd", 0.7), ("glnn", 0.78))
           for seed in range(3)]


def check_png(path, width_over_height: float | None = None) -> None:
    assert path.exists()
    assert path.read_bytes()[:8] == PNG_MAGIC
    pixels = image.imread(path)
    assert pixels.ndim == 3 and pixels.shape[2] in (3, 4)
    assert pixels.shape[0] > 200 and pixels.shape[1] > 200
    if width_over_height is not None:
        assert pixels.shape[1] / pixels.shape[0] == pytest.approx(width_over_height, rel=0.05)
    assert pixels[..., :3].std() > 0.01  # not blank


def test_accuracy_vs_speedup(tmp_path):
    path = plots.accuracy_vs_speedup(ROWS, tmp_path / "speed.png")
    assert path == tmp_path / "speed.png"
    check_png(path, width_over_height=2 * 4.2 / 3.8)  # two datasets, side by side
    assert [p.name for p in tmp_path.iterdir()] == ["speed.png"]  # no temporary file left behind


def test_teacher_student_gap(tmp_path):
    check_png(plots.teacher_student_gap(ROWS, tmp_path / "gap.png"))


def test_training_curves(tmp_path):
    check_png(plots.training_curves(RECORDS, tmp_path / "curves.png"), width_over_height=2 * 4.2 / 3.6)
    one = plots.training_curves(RECORDS, tmp_path / "cora.png", dataset="cora")
    check_png(one, width_over_height=7.0 / 3.6)  # one panel: the figure keeps a 7-inch minimum width for its title


def test_curves_mean_over_epochs_every_seed_has():
    short = record("cora", "mlp2x128", "kd", 1, 0.7, epochs=3)  # stopped early
    epochs, scores = plots._mean_curve([record("cora", "mlp2x128", "kd", 0, 0.7)["curve"], short["curve"]])
    assert epochs == [0, 1, 2]
    assert scores[0] == pytest.approx((0.35 + 0.36) / 2)


def test_training_curves_without_curves_is_a_clear_error(tmp_path):
    bare = [{k: v for k, v in r.items() if k != "curve"} for r in RECORDS]
    with pytest.raises(ValueError, match="no record has a curve"):
        plots.training_curves(bare, tmp_path / "curves.png")
    with pytest.raises(ValueError, match="for dataset 'pubmed'"):
        plots.training_curves(RECORDS, tmp_path / "curves.png", dataset="pubmed")
    assert not (tmp_path / "curves.png").exists()


def test_write_all(tmp_path):
    paths = plots.write_all(ROWS, RECORDS, tmp_path / "figs")
    assert [p.name for p in paths] == ["accuracy_vs_speedup.png", "teacher_student_gap.png", "training_curves.png"]
    for p in paths:
        check_png(p)
    bare = [{k: v for k, v in r.items() if k != "curve"} for r in RECORDS]
    assert [p.name for p in plots.write_all(ROWS, bare, tmp_path / "no-curves")] == [
        "accuracy_vs_speedup.png", "teacher_student_gap.png"]


def test_missing_matplotlib_is_a_clear_error(tmp_path, monkeypatch):
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    calls = [lambda: plots.accuracy_vs_speedup(ROWS, tmp_path / "a.png"),
             lambda: plots.teacher_student_gap(ROWS, tmp_path / "b.png"),
             lambda: plots.training_curves(RECORDS, tmp_path / "c.png"),
             lambda: plots.write_all(ROWS, RECORDS, tmp_path)]
    for call in calls:
        with pytest.raises(RuntimeError, match=r"plots need matplotlib: pip install 'gkd\[plot\]'"):
            call()
    assert list(tmp_path.iterdir()) == []
