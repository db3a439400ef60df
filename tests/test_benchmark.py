"""The benchmark command: tables and files, resuming, clear errors."""
import csv

from benchmarks.run import main
from gkd.io import read_jsonl


def test_benchmark_writes_results_and_resumes(tmp_path, capsys):
    args = ["--dataset", "synthetic", "--methods", "none,glnn", "--seeds", "1", "--epochs", "3", "--out", str(tmp_path)]
    assert main(args) == 0
    records = read_jsonl(tmp_path / "results.jsonl")
    assert len(records) == 4 and all(r["status"] == "ok" for r in records)  # 2 students x 2 methods
    assert {r["method"] for r in records} == {"none", "glnn"}
    with open(tmp_path / "summary.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 4 and float(rows[0]["speedup"]) > 0
    table = (tmp_path / "summary.md").read_text()
    assert "| synthetic | sage2x64 | mlp2x64 | glnn | teacher | 1 |" in table and "ECE (%)" in table
    capsys.readouterr()
    assert main(args) == 0  # second run: everything is already there
    assert len(read_jsonl(tmp_path / "results.jsonl")) == 4
    assert "none: test" not in capsys.readouterr().out  # no run was redone


def test_an_extended_run_keeps_finished_runs_and_adds_only_new_ones(tmp_path):
    common = ["--dataset", "synthetic", "--seeds", "1", "--epochs", "2", "--out", str(tmp_path)]
    assert main(common + ["--methods", "none"]) == 0
    first = read_jsonl(tmp_path / "results.jsonl")
    assert main(common + ["--methods", "none,kd"]) == 0
    after = read_jsonl(tmp_path / "results.jsonl")
    assert after[: len(first)] == first
    assert [r["method"] for r in after[len(first):]] == ["kd", "kd"]


def test_unknown_names_exit_with_the_valid_ones(tmp_path, capsys):
    assert main(["--dataset", "coraa", "--out", str(tmp_path)]) == 2
    assert "valid datasets" in capsys.readouterr().err
    assert main(["--methods", "glnn,foo", "--out", str(tmp_path)]) == 2
    assert "foo" in capsys.readouterr().err


def test_missing_data_is_reported_and_the_rest_runs(tmp_path, capsys):
    args = ["--dataset", "pubmed,synthetic", "--methods", "none", "--seeds", "1", "--epochs", "2",
            "--root", str(tmp_path / "empty"), "--out", str(tmp_path / "out")]
    assert main(args) == 1  # the exit status says not everything asked for ran
    err = capsys.readouterr().err
    assert "[pubmed] skipped, data not found" in err
    assert "error: not every run asked for finished: 2 run(s) done now; 0 done before; 0 failed; " \
           "skipped for missing data: pubmed" in err
    assert {r["dataset"] for r in read_jsonl(tmp_path / "out" / "results.jsonl")} == {"synthetic"}


def test_a_method_with_its_own_student_runs_once_with_it(tmp_path):
    args = ["--dataset", "synthetic", "--methods", "none,cpf", "--seeds", "1", "--epochs", "2", "--out", str(tmp_path)]
    assert main(args) == 0
    runs = {(r["student"], r["method"]) for r in read_jsonl(tmp_path / "results.jsonl")}
    assert runs == {("mlp2x64", "none"), ("sage2x16", "none"), ("cpf10x64", "cpf")}


def test_students_and_teacher_can_be_chosen(tmp_path, capsys):
    args = ["--dataset", "synthetic", "--methods", "none", "--seeds", "1", "--epochs", "2", "--out", str(tmp_path)]
    assert main(args + ["--students", "mlp"]) == 0
    assert [r["student"] for r in read_jsonl(tmp_path / "results.jsonl")] == ["mlp2x64"]
    capsys.readouterr()
    assert main(args + ["--students", "gin"]) == 2
    assert "unknown student 'gin'; valid students: mlp, sage" in capsys.readouterr().err
    assert main(args + ["--teacher", "gin"]) == 2
    assert "unknown teacher 'gin'; valid teachers: gat, gcn, sage" in capsys.readouterr().err


def test_citation_protocol_offers_cpf_gcn_teacher():
    from benchmarks.protocols import protocol

    chosen = protocol("cora").with_teacher("gcn")
    assert chosen.teacher.name == "gcn" and chosen.teacher_config.weight_decay == 5e-3
    assert protocol("cora").with_teacher(None).teacher.name == "sage"
    intermediate = protocol("cora").with_teacher("sage3x256").with_students(["mlp", "gcn2x32"])
    assert [s.label() for s in intermediate.students] == ["mlp2x128", "gcn2x32"]
    assert intermediate.teacher.label() == "sage3x256"


def test_seed_start_runs_only_the_later_seeds(tmp_path):
    args = ["--dataset", "synthetic", "--methods", "none", "--students", "mlp", "--seed-start", "2", "--seeds", "1",
            "--epochs", "2", "--out", str(tmp_path)]
    assert main(args) == 0
    assert [r["seed"] for r in read_jsonl(tmp_path / "results.jsonl")] == [2]


def test_the_vision_suite_runs_on_digits_and_skips_graph_only_methods(tmp_path, capsys):
    args = ["--dataset", "digits", "--methods", "none,trg,lsp", "--seeds", "1", "--epochs", "1", "--out", str(tmp_path)]
    assert main(args) == 0
    records = read_jsonl(tmp_path / "results.jsonl")
    assert {(r["student"], r["method"]) for r in records} == {("resnet1x4", "none"), ("resnet1x4", "trg")}
    assert all(r["status"] == "ok" and r["train_seconds"] > 0 for r in records)
    out = capsys.readouterr().out
    assert "lsp: not built for image tasks, skipped" in out
    assert "| digits | resnet1x16 | resnet1x4 | trg | teacher | 1 |" in (tmp_path / "summary.md").read_text()


def test_node_only_methods_are_skipped_on_images_and_image_methods_on_graphs(tmp_path, capsys):
    args = ["--dataset", "synthetic", "--methods", "trg", "--seeds", "1", "--epochs", "1", "--out", str(tmp_path)]
    assert main(args) == 1  # nothing ran: the exit status says so
    captured = capsys.readouterr()
    assert "trg: not built for node tasks, skipped" in captured.out and "results in" not in captured.out
    assert "error: nothing ran" in captured.err
    assert read_jsonl(tmp_path / "results.jsonl") == []
