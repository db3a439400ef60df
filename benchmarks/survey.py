"""The survey table: each method under its own paper's protocol, our figure beside the paper's.

For every survey entry (``benchmarks.suites``, ``Entry.paper``) and every method it ran, one row
with gkd's mean ± std over seeds, the paper's published figure under the same protocol
(``benchmarks.published``) and the difference; the teacher gets a row of its own. In GLNN's
inductive setting the held-out nodes' score stands beside GLNN's "ind" column and the production
mix beside its "prod" column. Where the reference holds no figure for a (paper, dataset, method)
the paper column says so rather than borrowing a number from another protocol.
"""
from __future__ import annotations

from .published import Figure, lookup
from .suites import Entry
from .tables import dataset_label, taught_by


def published_figure(entry: Entry, method: str, setting: str) -> Figure | None:
    """The paper's figure for ``method`` (``teacher`` for the teacher) under ``entry``'s protocol."""
    teacher, student = entry.paper_pair or (None, None)
    figures = lookup(entry.dataset, method, paper=entry.paper, teacher=teacher)
    if student is not None:  # a teacher's figure names every student of its comparison
        figures = [f for f in figures if f.student == student or (method == "teacher" and student in f.student)]
    in_setting = [f for f in figures if f.setting == setting] or (figures if setting == "transductive" else [])
    return in_setting[0] if len(in_setting) == 1 else None


def _rows_of(entry: Entry, rows: list[dict]) -> list[dict]:
    """The summary rows of a resolved entry (its teacher is the model label, its split set)."""
    return [r for r in rows if r["dataset"] == entry.dataset and r["method"] in entry.methods
            and r.get("setting", "transductive") == entry.setting and r.get("split") == entry.split
            and r["teacher"] == entry.teacher]


def _line(entry: Entry, setting: str, pair: str, method: str, mean: float, std: float | None, runs: int) -> str:
    figure = published_figure(entry, method, setting)
    ours = f"{mean:.2f} ± {std:.2f}" if std is not None else f"{mean:.2f}"
    if figure is None:
        paper, diff = "no published figure", "-"
    else:
        paper, diff = f"{figure.value:.2f}", f"{mean - figure.value:+.2f}"
    label = dataset_label({"dataset": entry.dataset, "setting": setting, "split": entry.split})
    way = "labels" if method == "teacher" else taught_by(method)  # a teacher row: the teacher, from its labels
    return f"| {label} | {entry.paper} | {pair} | {method} | {way} | {runs} | {ours} | {paper} | {diff} |"


def survey_markdown(rows: list[dict], entries: list[Entry]) -> str:
    """The survey table over the summary ``rows`` (``benchmarks.tables.summarise``) for resolved
    ``entries`` (``benchmarks.run.resolved``: teacher labels and splits filled in)."""
    lines = ["| dataset | paper | teacher -> student | method | taught by | runs | gkd (%) | paper (%) | gkd - paper |",
             "|---|---|---|---|---|---|---|---|---|"]
    for entry in entries:
        if entry.paper is None:
            continue
        mine = _rows_of(entry, rows)
        if not mine:
            continue
        views = [(entry.setting, "test_mean", "teacher_mean")]
        if entry.setting == "inductive":
            views.append(("production", "test_prod", "teacher_test_prod"))
        for setting, ours, teachers in views:
            first = mine[0]
            teacher_value = first[teachers] if teachers == "teacher_mean" else 100 * first[teachers]
            teacher_std = first["teacher_std"] if teachers == "teacher_mean" else None
            lines.append(_line(entry, setting, first["teacher"], "teacher", teacher_value, teacher_std, first["runs"]))
            for row in mine:
                value = row[ours] if ours == "test_mean" else 100 * row[ours]
                std = row["test_std"] if ours == "test_mean" else None
                lines.append(_line(entry, setting, f"{row['teacher']} -> {row['student']}", row["method"], value, std,
                                   row["runs"]))
    return "\n".join(lines) + "\n"
