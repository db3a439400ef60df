"""benchmarks.latency on the 2,000-node synthetic task: every figure is there (DGL's too when DGL
imports, else the reason it was not timed), and --skip-pyg leaves PyG out."""
import importlib
import json

from benchmarks.latency import main


def test_latency_smoke_run_times_every_implementation_or_says_why_not(tmp_path, capsys):
    assert main(["--dataset", "synthetic", "--nodes", "50", "--repeats", "1", "--steps", "1", "--skip-pyg",
                 "--out", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "latency.json").read_text())
    printed = capsys.readouterr().out
    step, full = result["train_step_s"], result["sage_full_graph_s"]
    assert result["dataset"] == "synthetic" and result["unseen_nodes"] == 50
    assert step["gkd_csr_sage"] > 0 and full["gkd_csr_sage"] > 0
    assert "pyg_sageconv" not in step and result["not_timed"]["pyg"] == "--skip-pyg"
    assert "PyG not timed: --skip-pyg" in printed
    try:
        importlib.import_module("dgl")
    except ImportError:
        assert "dgl_sageconv" not in step and "dgl" in result["not_timed"]
        assert "DGL not timed: dgl does not import" in printed
    else:
        assert step["dgl_sageconv"] > 0 and full["dgl_speedup"] > 0 and "dgl" not in result["not_timed"]
        assert "gkd vs DGL: training step" in printed
