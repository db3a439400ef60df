"""The harness refuses early and goes on late: bad arguments and unwritable folders stop it before
any work, with every problem named; a dataset that fails validation or a teacher that fails is
recorded and the rest runs; the exit status tells whether everything asked for finished."""
import dataclasses

import pytest
import torch

import gkd
from benchmarks.run import main
from gkd.io import read_jsonl

QUICK = ["--methods", "none", "--students", "mlp", "--seeds", "1", "--budget", "epochs=2"]


@pytest.mark.parametrize("extra, message", [
    (["--seeds", "0"], "--seeds must be at least 1, got 0"),
    (["--seeds", "-1"], "--seeds must be at least 1, got -1"),
    (["--epochs", "0"], "--epochs must be at least 1, got 0"),
    (["--subset", "0"], "--subset must be at least 1, got 0"),
    (["--seed-start", "-2"], "--seed-start must be at least 0, got -2"),
])
def test_counts_out_of_range_are_refused_before_any_work(tmp_path, capsys, extra, message):
    assert main(["--dataset", "synthetic", "--out", str(tmp_path / "out"), *extra]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out" / "results.jsonl").exists()


def test_every_unknown_name_is_listed(tmp_path, capsys):
    assert main(["--dataset", "synthetic,cifar9,coraa", "--methods", "kd,fitnett,glnn+srdd", "--out",
                 str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "unknown datasets 'cifar9', 'coraa'; valid datasets:" in err
    assert "unknown methods 'fitnett', 'srdd'; valid methods:" in err


def test_students_and_teacher_apply_to_a_suite_and_the_setting_is_refused(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["--suite", "quick", "--dataset", "synthetic", *QUICK, "--out", str(out)]) == 0
    assert {r["student"] for r in read_jsonl(out / "results.jsonl")} == {"mlp2x64"}
    assert main(["--suite", "quick", "--dataset", "synthetic", "--students", "gat", "--out", str(out)]) == 2
    assert "[synthetic] unknown student 'gat'" in capsys.readouterr().err
    assert main(["--suite", "quick", "--setting", "inductive", "--out", str(out)]) == 2
    assert "--setting applies to --dataset runs" in capsys.readouterr().err


def test_an_unwritable_results_folder_or_cache_is_refused_before_training(tmp_path, capsys, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("nothing can be written under a file")
    monkeypatch.setattr(gkd, "train_teacher", lambda *a, **k: pytest.fail("trained before refusing"))
    assert main(["--dataset", "synthetic", *QUICK, "--out", str(blocker / "out")]) == 2
    assert "the results folder (--out)" in capsys.readouterr().err
    monkeypatch.setenv("GKD_CACHE_DIR", str(blocker / "cache"))
    assert main(["--dataset", "synthetic", *QUICK, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "the teacher cache" in err and "set GKD_CACHE_DIR to a writable folder, or pass --no-cache" in err
    monkeypatch.undo()
    monkeypatch.setenv("GKD_CACHE_DIR", str(blocker / "cache"))
    assert main(["--dataset", "synthetic", *QUICK, "--no-cache", "--out", str(tmp_path / "out2")]) == 0


def test_bad_data_on_one_dataset_is_recorded_and_the_next_runs(tmp_path, capsys, monkeypatch):
    entry = gkd.data.DATASETS["synthetic"]

    def with_nan(name, root, seed=0, download=False):
        task = entry.loader(name, root, seed=seed, download=download)
        data = task.data.clone()
        data.x[7, 2] = float("nan")
        return gkd.Task(name=name, kind="node", data=data, split=task.split, num_classes=task.num_classes)

    monkeypatch.setitem(gkd.data.DATASETS._entries, "synthetic", dataclasses.replace(entry, loader=with_nan))
    out = tmp_path / "out"
    assert main(["--dataset", "synthetic,synthetic-graphs", *QUICK, "--out", str(out)]) == 1
    captured = capsys.readouterr()
    records = read_jsonl(out / "results.jsonl")
    failed = [r for r in records if r["status"] == "failed"]
    assert [r["dataset"] for r in failed] == ["synthetic"]
    assert "data: InvalidDataError: task 'synthetic': features: row 7, column 2 is nan" in failed[0]["error"]
    assert any(r["dataset"] == "synthetic-graphs" and r["status"] == "ok" for r in records)
    assert "1 failed" in captured.err and "results in" in captured.out


def test_a_failing_teacher_is_recorded_and_the_rest_runs(tmp_path, capsys, monkeypatch):
    real = gkd.train_teacher

    def flaky(task, spec, config, seed=0, use_cache=True):
        if task.kind == "node":
            raise FloatingPointError("the teacher diverged")
        return real(task, spec, config, seed=seed, use_cache=use_cache)

    monkeypatch.setattr(gkd, "train_teacher", flaky)
    out = tmp_path / "out"
    assert main(["--dataset", "synthetic,synthetic-graphs", *QUICK, "--out", str(out)]) == 1
    records = read_jsonl(out / "results.jsonl")
    assert {(r["dataset"], r["status"]) for r in records} == {("synthetic", "failed"), ("synthetic-graphs", "ok")}
    assert "teacher: FloatingPointError: the teacher diverged" in next(r for r in records
                                                                       if r["status"] == "failed")["error"]
    monkeypatch.setattr(gkd, "train_teacher", real)
    assert main(["--dataset", "synthetic,synthetic-graphs", *QUICK, "--out", str(out)]) == 0  # the failure reruns
    assert torch.tensor([r["status"] == "ok" for r in read_jsonl(out / "results.jsonl")]).sum() == 2
