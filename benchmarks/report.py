"""The files a benchmark leaves in its results folder: the summary (``summary.md``, ``.csv``,
``.jsonl``), the survey table when an entry names a paper (``survey.md``), and the plots; and its
results page (``write_page``)."""
from __future__ import annotations

import sys
from pathlib import Path

from gkd.io import atomic_write_text

from . import pages
from .plots import write_all
from .suites import Entry
from .survey import survey_markdown
from .tables import failures, link_markdown, markdown, summarise, to_csv, to_jsonl


def write_reports(folder: Path, records: list[dict], entries: list[Entry]) -> list[dict]:
    """Print and save the summary (``summary.md``, ``.csv``, ``.jsonl``), the survey table when an
    entry names a paper (``survey.md``), and the plots when matplotlib is installed."""
    rows = summarise(records)
    table = markdown(rows)
    if any("links" in row for row in rows):
        table += "\n" + link_markdown(rows)
    atomic_write_text(table, folder / "summary.md")
    atomic_write_text(to_csv(rows), folder / "summary.csv")
    atomic_write_text(to_jsonl(rows), folder / "summary.jsonl")
    print(table)
    if any(e.paper for e in entries):
        survey = survey_markdown(rows, entries)
        atomic_write_text(survey, folder / "survey.md")
        print(survey)
    try:
        paths = write_all(rows, records, folder) if rows else []
        if paths:
            print("plots: " + ", ".join(str(p) for p in paths))
    except (RuntimeError, ValueError) as exc:  # matplotlib missing, or nothing to plot: tables only
        print(f"no plots: {exc}", file=sys.stderr)
    for line in failures(records):
        print(f"failed: {line}", file=sys.stderr)
    return rows


def write_page(path: str | Path, title: str, commands: list[str], records: list[dict], entries: list[Entry]) -> Path:
    """The results page of ``records`` at ``path``: the summary table, the survey table when an entry
    names a paper, the failed runs; headed by ``commands`` and where and when the runs were measured
    (each record's ``provenance``)."""
    rows = summarise(records)
    body = ["## Summary", "", markdown(rows).rstrip()]
    if any("links" in row for row in rows):
        body += ["", "## Link prediction", "", link_markdown(rows).rstrip()]
    if any(e.paper for e in entries):
        body += ["", "## Beside the published figures", "", survey_markdown(rows, entries).rstrip()]
    failed = failures(records)
    if failed:
        body += ["", "## Failed runs", ""] + [f"- {line}" for line in failed]
    measured = [r["provenance"] for r in records if r.get("provenance")]
    if not measured:
        measured = [{"commit": "unknown", "date": "unknown", "machine": "unknown"}]
    return pages.write_page(path, title, commands, measured, "\n".join(body))
