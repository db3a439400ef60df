"""Suites, the inductive setting, the survey table, --report and resuming after a kill."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmarks.run import main
from benchmarks.suites import SUITES, Entry
from benchmarks.survey import survey_markdown
from gkd.io import read_jsonl

ROOT = Path(__file__).resolve().parents[1]


def test_unknown_suite_lists_the_valid_ones(tmp_path, capsys):
    assert main(["--suite", "fast", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "fast" in err and all(name in err for name in SUITES)


def test_quick_suite_narrowed_and_budgeted_then_reported_again_without_training(tmp_path, capsys):
    out = tmp_path / "out"
    args = ["--suite", "quick", "--dataset", "synthetic", "--methods", "none,glnn", "--seeds", "1",
            "--budget", "epochs=3", "--out", str(out)]
    assert main(args) == 0
    records = read_jsonl(out / "results.jsonl")
    assert {(r["method"], r["epochs"]) for r in records} == {("none", 3), ("glnn", 3)}
    assert all(r["peak_mib"] > 0 and len(r["curve"]) == 3 for r in records)
    rows = [json.loads(line) for line in (out / "summary.jsonl").read_text().splitlines()]
    glnn = next(r for r in rows if r["method"] == "glnn" and r["student"] == "mlp2x64")
    assert glnn["overhead"] > 0 and glnn["peak_mib"] > 0
    for name in ("accuracy_vs_speedup.png", "teacher_student_gap.png", "training_curves.png"):
        assert (out / name).read_bytes()[:4] == b"\x89PNG"
    before = (out / "results.jsonl").read_text()
    (out / "summary.md").unlink()
    (out / "accuracy_vs_speedup.png").unlink()
    capsys.readouterr()
    assert main(["--report", str(out)]) == 0
    assert (out / "results.jsonl").read_text() == before  # nothing trained
    assert "| synthetic | sage2x64 | mlp2x64 | glnn | teacher | 1 |" in (out / "summary.md").read_text()
    assert (out / "accuracy_vs_speedup.png").exists()
    assert main(["--report", str(tmp_path / "nothing")]) == 2


def test_inductive_setting_scores_held_out_nodes_and_the_production_mix(tmp_path):
    args = ["--dataset", "synthetic", "--methods", "glnn", "--students", "mlp", "--seeds", "1", "--epochs", "5",
            "--out", str(tmp_path)]
    assert main(args + ["--setting", "inductive"]) == 0
    (record,) = read_jsonl(tmp_path / "results.jsonl")
    assert record["setting"] == "inductive"
    assert record["test_prod"] == pytest.approx(0.8 * record["test_tran"] + 0.2 * record["test"])
    production = 0.8 * record["teacher_test_tran"] + 0.2 * record["teacher_test"]
    assert record["teacher_test_prod"] == pytest.approx(production)
    assert "synthetic [inductive]" in (tmp_path / "summary.md").read_text()
    # the same run transductive is a different run, not a finished one
    assert main(args) == 0
    assert [r["setting"] for r in read_jsonl(tmp_path / "results.jsonl")] == ["inductive", "transductive"]


def _row(method, test, setting="transductive", **extra):
    return {"dataset": "cora", "split": "cpf", "setting": setting, "teacher": "sage2x128", "student": "mlp2x128",
            "method": method, "runs": 5, "test_mean": test, "test_std": 1.0, "teacher_mean": 78.0,
            "teacher_std": 0.5, **extra}


def test_survey_table_puts_the_paper_figure_and_the_difference_beside_ours():
    entries = [Entry("cora", ("none", "glnn"), teacher="sage2x128", split="cpf", paper="GLNN"),
               Entry("cora", ("none", "glnn"), teacher="sage2x128", split="cpf", setting="inductive", paper="GLNN"),
               Entry("cora", ("nosmog",), teacher="sage2x128", split="cpf", paper="NOSMOG")]
    rows = [_row("none", 57.0), _row("glnn", 80.0),
            _row("glnn", 74.0, "inductive", test_prod=0.78, teacher_test_prod=0.79),
            _row("nosmog", 81.0)]
    table = survey_markdown(rows, entries)
    assert "| cora | GLNN | sage2x128 -> mlp2x128 | glnn | teacher | 5 | 80.00 ± 1.00 | 79.39 | +0.61 |" in table
    assert "| cora | GLNN | sage2x128 | teacher | labels | 5 | 78.00 ± 0.50 | 78.78 | -0.78 |" in table
    assert ("| cora [inductive] | GLNN | sage2x128 -> mlp2x128 | glnn | teacher | 5 | 74.00 ± 1.00 | 73.82 | +0.18 |"
            in table)
    assert "| cora [production] | GLNN | sage2x128 -> mlp2x128 | glnn | teacher | 5 | 78.00 | 78.28 | -0.28 |" in table
    assert "| nosmog | teacher | 5 | 81.00 ± 1.00 | no published figure | - |" in table
    cpf = Entry("citeseer", ("cpf",), teacher="gcn2x64", split="cpf", paper="CPF", paper_pair=("GCN", "CPF-tra"))
    cpf_rows = [{**_row("cpf", 70.0), "dataset": "citeseer", "teacher": "gcn2x64", "student": "cpf10x64"}]
    cpf_table = survey_markdown(cpf_rows, [cpf])
    assert "| citeseer | CPF | gcn2x64 | teacher | labels | 5 | 78.00 ± 0.50 | 71.10 | +6.90 |" in cpf_table
    assert "| citeseer | CPF | gcn2x64 -> cpf10x64 | cpf | teacher | 5 | 70.00 ± 1.00 | 76.52 | -6.52 |" in cpf_table


def test_a_killed_benchmark_resumes_without_redoing_finished_runs(tmp_path):
    out = tmp_path / "out"
    command = [sys.executable, "-m", "benchmarks.run", "--dataset", "synthetic", "--methods", "none,kd,glnn",
               "--students", "mlp", "--seeds", "2", "--epochs", "40", "--out", str(out)]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    results = out / "results.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and len(read_jsonl(results)) < 2:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    finished = read_jsonl(results)
    assert 2 <= len(finished) < 6, "the kill should land mid-suite"
    assert main(["--dataset", "synthetic", "--methods", "none,kd,glnn", "--students", "mlp", "--seeds", "2",
                 "--epochs", "40", "--out", str(out)]) == 0
    after = read_jsonl(results)
    assert after[: len(finished)] == finished  # finished runs kept as they were
    keys = [(r["method"], r["seed"]) for r in after]
    assert sorted(keys) == sorted({(m, s) for m in ("none", "kd", "glnn") for s in (0, 1)})  # each run once


def test_survey_on_real_cora_fills_the_published_column(shared_root, tmp_path):
    out = tmp_path / "out"
    assert main(["--suite", "survey", "--dataset", "cora", "--methods", "none,glnn", "--seeds", "1",
                 "--budget", "epochs=3", "--root", str(shared_root), "--out", str(out)]) == 0
    survey = (out / "survey.md").read_text()
    # GLNN's protocol on Cora, both settings; the KRD entry (public split) ran its "none" student
    assert "| cora | GLNN | sage2x128 -> mlp2x128 | glnn | teacher | 1 |" in survey and "| 79.39 |" in survey
    assert "| cora [inductive] | GLNN |" in survey and "| 73.82 |" in survey
    assert "| cora [production] | GLNN |" in survey and "| 78.28 |" in survey
    assert "| cora [public split] | KRD | sage2x128 -> mlp2x128 | none |" in survey
    plan = json.loads((out / "plan.json").read_text())
    assert plan["suite"] == "survey" and {e["paper"] for e in plan["entries"]} == {"GLNN", "KRD"}


def test_report_finds_the_runs_of_a_plan_written_before_the_key_gained_a_field(tmp_path):
    import json as json_

    out = tmp_path / "out"
    assert main(["--dataset", "synthetic", "--methods", "none", "--students", "mlp", "--seeds", "1", "--epochs", "2",
                 "--out", str(out)]) == 0
    plan = json_.loads((out / "plan.json").read_text())
    plan["keys"] = [json_.dumps({k: v for k, v in json_.loads(key).items() if k != "fanouts"}, sort_keys=True)
                    for key in plan["keys"]]
    (out / "plan.json").write_text(json_.dumps(plan))
    (out / "summary.md").unlink()
    assert main(["--report", str(out)]) == 0
    assert "| synthetic | sage2x64 | mlp2x64 | none | labels | 1 |" in (out / "summary.md").read_text()
