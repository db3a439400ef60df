"""Two processes with torch.distributed (gloo on CPU) against one: the same runs, the same result."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from gkd.io import read_jsonl
from gkd.train import distributed

ROOT = Path(__file__).resolve().parents[1]


def test_one_process_is_not_distributed():
    index = torch.arange(7)
    assert not distributed.active() and distributed.world() == 1 and distributed.is_main()
    assert torch.equal(distributed.share(index), index) and distributed.rank0_decides(True)


def _run(out: Path, processes: int, *extra: str) -> list[dict]:
    args = ["-m", "benchmarks.run", "--dataset", "synthetic", "--methods", "none,glnn,fitnet", "--students", "mlp",
            "--seeds", "1", "--epochs", "15", "--no-cache", "--out", str(out), *extra]
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}"]
    command = (launcher if processes > 1 else [sys.executable]) + args
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    return read_jsonl(out / "results.jsonl")


@pytest.mark.slow
def test_two_gloo_processes_match_one(tmp_path):
    single = _run(tmp_path / "one", 1)
    double = _run(tmp_path / "two", 2)
    assert [(r["method"], r["status"]) for r in double] == [(r["method"], "ok") for r in single]  # rank 0 wrote once
    for a, b in zip(single, double):
        # same seeds, equal shares of the training nodes: the averaged gradient is the single-process one
        assert b["teacher_test"] == pytest.approx(a["teacher_test"], abs=0.01)
        assert b["test"] == pytest.approx(a["test"], abs=0.015), a["method"]
        assert b["valid"] == pytest.approx(a["valid"], abs=0.015), a["method"]


@pytest.mark.slow
def test_two_gloo_processes_train_on_sampled_neighbourhoods(tmp_path):
    extra = ("--fanouts", "5,5")
    single = _run(tmp_path / "one", 1, *extra)
    double = _run(tmp_path / "two", 2, *extra)
    assert [(r["method"], r["status"], r["fanouts"]) for r in double] == [(r["method"], "ok", [5, 5]) for r in single]
    for a, b in zip(single, double):
        # each rank samples around half of the seeds: other batches than one process draws, a close result
        assert b["teacher_test"] == pytest.approx(a["teacher_test"], abs=0.06)
        assert b["test"] == pytest.approx(a["test"], abs=0.08), a["method"]
        assert b["test"] > 0.45, a["method"]


@pytest.mark.slow
def test_the_speed_up_benchmark_times_one_and_two_processes(tmp_path):
    from benchmarks import ddp_speedup

    out = tmp_path / "ddp"
    assert ddp_speedup.main(["--dataset", "synthetic", "--epochs", "2", "--threads", "2", "--out", str(out)]) == 0
    ways = json.loads((out / "ddp_speedup.json").read_text())["ways"]
    assert [(w["processes"], w["threads"]) for w in ways] == [(1, 1), (1, 2), (2, 1)]
    assert all(w["epoch_s"] > 0 and w["epochs"] == 2 and w["valid"] > 0.3 for w in ways)
    assert "| 2 x 1 |" in (out / "ddp_speedup.md").read_text()
    assert ddp_speedup.main(["--nproc", "1"]) == 2
