"""Results pages: written by the command that measured them, stating that command, the commit,
the date and the machine; rewritten from the saved results by --report; and the pages under
docs/results/ all say how to regenerate them."""
import json
import re
import shlex
from pathlib import Path

from benchmarks import pages
from benchmarks.latency import main as latency
from benchmarks.run import main
from gkd.io import read_jsonl

DOCS = Path(__file__).resolve().parents[1] / "docs" / "results"


def test_a_run_writes_its_page_and_report_rewrites_it_from_the_saved_results(tmp_path):
    out, page = tmp_path / "out", tmp_path / "docs" / "study.md"
    args = ["--dataset", "synthetic", "--methods", "none,glnn", "--students", "mlp", "--seeds", "1",
            "--budget", "epochs=3", "--out", str(out), "--page", str(page), "--title", "A small study"]
    assert main(args) == 0
    text = page.read_text()
    assert text.startswith("# A small study\n")
    assert f"    python -m benchmarks.run {shlex.join(args)}\n" in text and "'A small study'" in text
    assert f"    python -m benchmarks.run --report {out} --page {page}\n" in text
    commit = re.search(r"^- commit: (\S+)$", text, re.M).group(1)
    assert re.fullmatch(r"[0-9a-f]{12}(\+changes)?|unknown", commit)
    assert re.search(r"^- date: \d{4}-\d\d-\d\d \d\d:\d\d UTC$", text, re.M)
    assert re.search(r"^- machine: .+ cores.+torch .+ torch threads", text, re.M)
    assert "| synthetic | sage2x64 | mlp2x64 | glnn | teacher | 1 |" in text
    records = read_jsonl(out / "results.jsonl")
    assert {r["provenance"]["commit"] for r in records} == {commit}
    page.unlink()
    assert main(["--report", str(out), "--page", str(page)]) == 0
    assert page.read_text() == text  # the same page again, from the saved results alone


def test_a_plan_without_a_command_cannot_make_a_page(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["--dataset", "synthetic", "--methods", "none", "--students", "mlp", "--seeds", "1",
                 "--budget", "epochs=2", "--out", str(out)]) == 0
    plan = json.loads((out / "plan.json").read_text())
    del plan["command"]
    (out / "plan.json").write_text(json.dumps(plan))
    assert main(["--report", str(out), "--page", str(tmp_path / "p.md")]) == 2
    assert "names no command" in capsys.readouterr().err and not (tmp_path / "p.md").exists()


def test_commands_hide_where_the_data_root_sits():
    assert pages.command("benchmarks.run", ["--dataset", "cora", "--root", "/home/me/data", "--seeds", "5"]) == \
        "python -m benchmarks.run --dataset cora --root DIR --seeds 5"
    assert pages.command("benchmarks.sweep", ["--root=../x", "--vary", "k=2,8"]) == \
        "python -m benchmarks.sweep --root=DIR --vary k=2,8"


def test_another_benchmark_writes_its_table_as_a_page(tmp_path):
    page = tmp_path / "latency.md"
    assert latency(["--dataset", "synthetic", "--nodes", "20", "--repeats", "1", "--steps", "1", "--skip-pyg",
                    "--out", str(tmp_path), "--page", str(page)]) == 0
    text = page.read_text()
    assert "python -m benchmarks.latency --dataset synthetic --nodes 20" in text
    assert "| predict 20 unseen nodes" in text and "- commit: " in text


def test_every_results_page_says_how_it_was_made():
    made = sorted(DOCS.glob("*.md"))
    assert made, "docs/results/ holds no page"
    for page in made:
        if page.name == "README.md":
            continue
        text = page.read_text()
        assert "Generated, not typed" in text and re.search(r"^    python -m benchmarks\.\w+ ", text, re.M), page
        assert re.search(r"^- commits?: ", text, re.M) and re.search(r"^- machine: ", text, re.M), page
