"""The large-graph cost benchmark runs end to end on a small graph and writes its phases."""
from __future__ import annotations

import json

from benchmarks import scale
from gkd.data.synthetic import NODE_PRESETS


def test_scale_benchmark_measures_every_phase(tmp_path, capsys):
    out = tmp_path / "scale"
    assert scale.main(["--dataset", "synthetic", "--modes", "full,sampled", "--fanouts", "5,5", "--batch-size", "256",
                       "--student-batch-size", "512", "--epochs", "1", "--out", str(out)]) == 0
    report = json.loads((out / "scale.json").read_text())
    assert report["nodes"] == 2000 and report["edges"] == 20000
    phases = [(r["mode"], r["phase"]) for r in report["phases"]]
    assert len(phases) == 9 and phases[0] == ("-", "load or generate the graph")
    assert ("sampled", "teacher inference, every node (layer-wise)") in phases
    assert all(r["seconds"] >= 0 and (r["peak_mib"] is None or r["peak_mib"] > 0) for r in report["phases"])
    training = [r for r in report["phases"] if "training" in r["phase"]]
    assert all(r["epoch_seconds"] > 0 and 0 <= r["valid"] <= 1 for r in training)
    assert "| sampled | teacher inference, every node (layer-wise) |" in (out / "scale.md").read_text()


def test_scale_benchmark_refuses_unknown_names(capsys):
    assert scale.main(["--modes", "fast"]) == 2
    assert "valid modes: full, sampled" in capsys.readouterr().err
    assert scale.main(["--dataset", "cora-x"]) == 2
    assert "synthetic-products" in capsys.readouterr().err


def test_products_preset_has_ogbn_products_shape():
    p = NODE_PRESETS["synthetic-products"]
    assert (p["num_nodes"], p["num_edges"], p["num_features"], p["num_classes"]) == (2_449_029, 61_859_140, 100, 47)
    assert abs(sum(p["split"]) - 1) < 1e-9
