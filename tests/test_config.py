"""Experiments as files (benchmarks.config, --config), progress lines and TensorBoard curves."""
from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import pytest

import benchmarks.run as bench
from benchmarks import config as bench_config
from benchmarks import curves
from benchmarks.reproduce import GROUPS
from benchmarks.run import arguments, entries_from_args, main, planned_runs, run_key, seed_count
from benchmarks.suites import SUITES
from gkd.io import read_jsonl

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted((ROOT / "benchmarks" / "configs").glob("*.toml"))


def _equivalent_argv(path: Path) -> list[str]:
    """The command-line arguments each kept file stands for."""
    if path.stem == "survey":
        return ["--suite", "survey"]
    (group,) = [g for g in GROUPS if g.name == path.stem]
    return group.argv(10, None, "results")


def _plan(argv: list[str]) -> tuple[list, list[str], argparse.Namespace]:
    """The entries, the run keys of seed 0 and the arguments ``argv`` stands for, with no training."""
    args = arguments(argv)
    entries = entries_from_args(args)
    keys = [run_key(record) for entry in entries for *_, record in planned_runs(entry, args, 0)]
    return entries, keys, args


def test_the_configs_folder_holds_the_survey_and_every_paper_protocol():
    assert {p.stem for p in CONFIGS} == {"survey", "glnn", "nosmog", "cpf"}


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_every_kept_config_plans_the_runs_of_its_command_line(path):
    from_file, file_keys, file_args = _plan(["--config", str(path)])
    from_flags, flag_keys, flag_args = _plan(_equivalent_argv(path))
    assert from_file == from_flags
    assert file_keys == flag_keys and len(file_keys) == len(set(file_keys)) > 0
    assert seed_count(file_args) == seed_count(flag_args)
    for name in ("seed_start", "no_faithfulness", "selection", "epochs", "budget"):
        assert getattr(file_args, name) == getattr(flag_args, name), name
    if path.stem == "survey":
        assert tuple(from_file) == SUITES["survey"]
        assert seed_count(file_args) == 5
    else:
        assert {e.protocol for e in from_file} == {path.stem} and seed_count(file_args) == 10


def test_flags_beside_a_config_override_it_and_narrow_its_experiments():
    args = arguments(["--config", str(ROOT / "benchmarks/configs/survey.toml"), "--seeds", "1", "--dataset", "cora",
                      "--methods", "none,glnn", "--budget", "epochs=3"])
    entries = entries_from_args(args)
    assert args.seeds == 1 and args.budget == {"epochs": 3}
    assert [(e.dataset, e.methods, e.paper, e.setting) for e in entries] == [
        ("cora", ("none", "glnn"), "GLNN", "transductive"), ("cora", ("none", "glnn"), "GLNN", "inductive"),
        ("cora", ("none",), "KRD", "transductive")]


def _write(folder: Path, text: str) -> Path:
    path = folder / "experiment.toml"
    path.write_text(text)
    return path


TINY = """
seeds = 2
epochs = 2
faithfulness = false

[[experiment]]
datasets = ["synthetic"]
methods = ["none", "kd"]
students = ["mlp"]

[experiment.options.kd]
temperature = 2.0
"""


@pytest.mark.parametrize("text, named, valid", [
    ("sedes = 2\n" + TINY, "'sedes'", "valid keys: seeds, seed_start"),
    (TINY.replace('students = ["mlp"]', 'students = ["mlp"]\nstudent = "mlp"'), "'student' in experiment 1",
     "valid keys: datasets, methods, teacher"),
    ("budget = {epochs = 2, subsets = 3}\n" + TINY, "'subsets' in budget", "valid keys: epochs, subset"),
])
def test_an_unknown_key_is_one_line_naming_it_the_file_and_the_valid_keys(tmp_path, capsys, text, named, valid):
    path = _write(tmp_path, text)
    assert main(["--config", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(path) in err and named in err and valid in err
    assert not (tmp_path / "out" / "results.jsonl").exists()  # nothing trained


@pytest.mark.parametrize("old, new, message", [
    ('"synthetic"', '"synthetc"', "unknown dataset 'synthetc'; valid datasets: "),
    ('["none", "kd"]', '["none", "kd", "kdd"]', "unknown method 'kdd'; valid methods: "),
    ("temperature = 2.0", "temprature = 2.0", "method 'kd' has no option temprature; its options: temperature"),
    ("seeds = 2", "seeds = 0", "--seeds must be at least 1, got 0"),
    ("seeds = 2", 'seeds = "2"', "seeds must be an integer, got '2'"),
    ("epochs = 2", 'selection = "first"', "selection must be best or last, got 'first'"),
    ('students = ["mlp"]', 'students = ["gin"]', "unknown student 'gin'; valid students: "),
    ("[experiment.options.kd]", "[experiment.options.glnn]", "has options for 'glnn', which it does not run"),
])
def test_a_config_is_checked_as_the_flags_are_before_any_training(tmp_path, capsys, old, new, message):
    assert old in TINY
    path = _write(tmp_path, TINY.replace(old, new))
    assert main(["--config", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert message in err, err
    assert not (tmp_path / "out" / "results.jsonl").exists()


def test_mixing_config_with_suite_or_setting_is_refused(tmp_path, capsys):
    path = _write(tmp_path, TINY)
    assert main(["--config", str(path), "--suite", "quick", "--out", str(tmp_path)]) == 2
    assert "--config and --suite both name the runs" in capsys.readouterr().err
    assert main(["--config", str(path), "--setting", "inductive", "--out", str(tmp_path)]) == 2
    assert "a configuration file names each experiment's" in capsys.readouterr().err


def test_file_options_merge_over_the_protocol_and_make_a_new_run_key(tmp_path):
    nosmog = _write(tmp_path, '[[experiment]]\ndatasets = ["cora-lcc"]\nmethods = ["nosmog"]\nprotocol = "nosmog"\n'
                              '[experiment.options.nosmog]\nepsilon = 0.05\n')
    args = arguments(["--config", str(nosmog)])
    (entry,) = entries_from_args(args)
    ((_, _, _, record),) = planned_runs(entry, args, 0)
    # the file's epsilon goes over the protocol's 0.04; the protocol's other options stay
    method = record["options"]["method"]
    assert method["epsilon"] == 0.05 and method["adv_weight"] == 0.1 and method["similarity_weight"] == 0.1
    path = _write(tmp_path, TINY)
    keys = {}
    for temperature in (2.0, 3.0):
        args = arguments(["--config", str(path), "--options", f"kd.temperature={temperature}"])
        (entry,) = entries_from_args(args)
        runs = {r["method"]: r for *_, r in planned_runs(entry, args, 0)}
        assert runs["kd"]["options"]["method"]["temperature"] == temperature
        assert "options" not in runs["none"] or "temperature" not in json.dumps(runs["none"]["options"])
        keys[temperature] = run_key(runs["kd"])
    assert keys[2.0] != keys[3.0]


def test_a_tiny_config_gives_the_table_of_its_command_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GKD_CACHE_DIR", str(tmp_path / "cache"))
    passed = []
    real = bench.student_run

    def spy(*args, **kwargs):
        passed.append((args[3], args[9]))  # the method and the options it was given
        return real(*args, **kwargs)

    monkeypatch.setattr(bench, "student_run", spy)
    path = _write(tmp_path, TINY)
    assert main(["--config", str(path), "--out", str(tmp_path / "file")]) == 0
    from_file = capsys.readouterr().out
    assert main(["--dataset", "synthetic", "--methods", "none,kd", "--students", "mlp", "--seeds", "2", "--epochs",
                 "2", "--no-faithfulness", "--options", "kd.temperature=2.0", "--out", str(tmp_path / "flags")]) == 0
    assert passed == [("none", {}), ("kd", {"temperature": 2.0})] * 4  # the option reached the distiller
    file_records = read_jsonl(tmp_path / "file" / "results.jsonl")
    flag_records = read_jsonl(tmp_path / "flags" / "results.jsonl")
    assert [run_key(r) for r in file_records] == [run_key(r) for r in flag_records] and len(file_records) == 4
    for a, b in zip(file_records, flag_records):  # the same seeds train the same models
        assert (a["test"], a["valid"], a["teacher_test"]) == (b["test"], b["valid"], b["teacher_test"])

    def rows(folder: str) -> list[str]:
        """summary.md's rows, the figures that measure time and memory left out."""
        lines = (tmp_path / folder / "summary.md").read_text().splitlines()[2:]
        return [" | ".join(line.split(" | ")[:8]) for line in lines]

    assert rows("file") == rows("flags") and len(rows("file")) == 2
    assert "| synthetic | sage2x64 | mlp2x64 | kd | teacher | 2 |" in rows("file")[0] + rows("file")[1]
    # a progress line when each run starts and when it ends, numbered out of the runs asked for
    assert re.search(r"run 1/4 \[synthetic seed 0\] mlp2x64 none: started", from_file)
    assert re.search(r"run 4/4 \[synthetic seed 1\] mlp2x64 kd: test 0\.\d+ \(training [\d.]+ s, [\d.]+ s in all\)",
                     from_file)


def test_parse_option_reads_toml_values_and_combination_parts():
    assert bench_config.parse_option("kd.temperature=2") == ("kd", {"temperature": 2})
    assert bench_config.parse_option("srd.reduction=mean") == ("srd", {"reduction": "mean"})
    assert bench_config.parse_option("glnn+srd.srd.beta=0.5") == ("glnn+srd", {"srd": {"beta": 0.5}})
    with pytest.raises(Exception, match="METHOD.OPTION=VALUE"):
        bench_config.parse_option("temperature=2")


def test_tensorboard_without_the_package_is_refused_before_training(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(curves, "available", lambda: False)
    assert main(["--dataset", "synthetic", "--methods", "none", "--tensorboard", "--out", str(tmp_path)]) == 2
    assert "--tensorboard needs the tensorboard package" in capsys.readouterr().err


def test_tensorboard_events_hold_each_loss_term_and_the_validation_score(tmp_path, monkeypatch):
    pytest.importorskip("tensorboard", reason="tensorboard is not installed (pip install gkd[tensorboard])")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    monkeypatch.setenv("GKD_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "out"
    assert main(["--dataset", "synthetic", "--methods", "kd", "--students", "mlp", "--seeds", "1", "--epochs", "3",
                 "--no-faithfulness", "--tensorboard", "--out", str(out)]) == 0
    (record,) = read_jsonl(out / "results.jsonl")
    (folder,) = [p.parent for p in (out / "tensorboard").rglob("events.out.tfevents.*")]
    assert folder == out / "tensorboard" / curves.run_name(record, run_key(record))
    events = EventAccumulator(str(folder))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert {"loss/ce", "loss/kd", "loss/total", "valid/accuracy", "time/epoch_seconds"} <= tags, tags
    assert [e.step for e in events.Scalars("valid/accuracy")] == [0, 1, 2]
    # the curve the record keeps is the same history: its losses and validation scores
    total = [e.value for e in events.Scalars("loss/total")]
    valid = [e.value for e in events.Scalars("valid/accuracy")]
    assert total == pytest.approx([c[1] for c in record["curve"]], rel=1e-5)
    assert valid == pytest.approx([c[2] for c in record["curve"]], rel=1e-5)


def test_the_guide_s_example_file_parses_and_passes_the_checks(tmp_path):
    guide = (ROOT / "docs" / "guide" / "benchmarks.md").read_text()
    path = _write(tmp_path, re.search(r"```toml\n(.*?)```", guide, re.S).group(1))
    args = arguments(["--config", str(path)])
    entries = entries_from_args(args)
    assert [(e.dataset, e.setting) for e in entries] == [("cora", "transductive"), ("citeseer", "transductive"),
                                                         ("cora", "inductive")]
    assert all(bench.check_entry(e, args) == [] for e in entries)
    assert entries[2].options == {"kd": {"temperature": 2.0, "kd_weight": 0.5}}
    assert (args.seeds, args.epochs, args.no_faithfulness, args.tensorboard) == (5, 200, True, True)
