"""Results pages (``docs/results/<study>.md``): written by the command that measured their figures,
never by hand, so that a new figure is a rerun, not an edit.

Every page states the command that produced it (and, for ``benchmarks.run``, the command that
rewrites it from the saved results), the commits the figures were measured at, the date, and the
machine with its load when the run started (timings are only comparable on a quiet machine).
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shlex
import subprocess
from pathlib import Path

import torch

from gkd.io import atomic_write_text

REPOSITORY = Path(__file__).resolve().parents[1]


def commit() -> str:
    """The checkout's commit (12 hex digits), with ``+changes`` when tracked files differ from it;
    ``unknown`` outside a git checkout."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=REPOSITORY, capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPOSITORY,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+changes" if dirty else "")


def machine(device: str = "cpu") -> str:
    """The CPU (model, cores, memory) or GPU, the platform, Python and torch versions."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as handle:
            names = [line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    parts = [f"{cpu}, {os.cpu_count()} cores"]
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
        parts.append(f"{memory:.0f} GiB")
    except (ValueError, OSError, AttributeError):
        pass
    if str(device).startswith("cuda") and torch.cuda.is_available():
        parts.append(torch.cuda.get_device_name(torch.device(device)))
    parts.append(f"{platform.system()} {platform.release()}, Python {platform.python_version()}, "
                 f"torch {torch.__version__}")
    return "; ".join(parts)


def provenance(device: str = "cpu") -> dict:
    """Where and when figures are measured: commit, UTC date, machine, threads, the load average."""
    try:
        load = round(os.getloadavg()[0], 2)
    except OSError:
        load = None
    return {"commit": commit(), "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": machine(device), "threads": torch.get_num_threads(), "load": load}


def measured_by(records: list[dict]) -> list[dict]:
    """The provenance of each saved record that has one (one unknown entry when none has)."""
    return [r["provenance"] for r in records if r.get("provenance")] or [
        {"commit": "unknown", "date": "unknown", "machine": "unknown"}]


def report_commands(module: str, argv: list[str]) -> list[str]:
    """The command that measures a page and the one that rewrites it from the saved results
    (``--report``), for ``python -m module`` invoked with ``argv``."""
    run = [a for a in argv if a != "--report"]
    return [command(module, run), command(module, [*run, "--report"])]


def command(module: str, argv: list[str]) -> str:
    """The command line ``python -m module argv...``, with a ``--root`` value written as ``DIR``
    (figures do not depend on where the data root sits)."""
    words, hide = [], False
    for word in argv:
        if hide:
            words.append("DIR")
            hide = False
        elif word == "--root":
            words.append(word)
            hide = True
        elif word.startswith("--root="):
            words.append("--root=DIR")
        else:
            words.append(word)
    return " ".join(["python", "-m", module, *map(shlex.quote, words)])


def render(title: str, commands: list[str], measured: list[dict], body: str) -> str:
    """The page: title, how it was made, provenance of each measuring session, then ``body``."""
    lines = [f"# {title}", "", "Generated, not typed: rerun the command to change a figure.", ""]
    lines += [f"    {c}" for c in commands] + [""]
    commits = sorted({m["commit"] for m in measured})
    lines.append(f"- commit{'s' if len(commits) > 1 else ''}: {', '.join(commits)}")
    dates = sorted({m["date"] for m in measured})
    lines.append(f"- date: {dates[0]}" + (f" to {dates[-1]}" if len(dates) > 1 else ""))
    for m in {m["machine"]: m for m in measured}.values():
        load = "" if m.get("load") is None else f"; load average {m['load']} at the start"
        lines.append(f"- machine: {m['machine']}; {m.get('threads', '?')} torch threads{load}")
    return "\n".join(lines) + "\n\n" + body.rstrip() + "\n"


def write_page(path: str | os.PathLike, title: str, commands: list[str], measured: list[dict], body: str) -> Path:
    """Write the page to ``path`` (atomically) and return the path."""
    path = Path(path)
    atomic_write_text(render(title, commands, measured, body), path)
    return path


def add_page_option(parser: argparse.ArgumentParser) -> None:
    """``--page PATH``: a benchmark also writes its table as a results page."""
    parser.add_argument("--page", default=None, metavar="PATH",
                        help="also write the table as a results page there (e.g. docs/results/<study>.md)")


def write_if_asked(page: str | None, module: str, argv: list[str], title: str, measured: dict, body: str) -> None:
    """Write the results page of ``module``'s run (``python -m module argv``) when ``page`` is set."""
    if page:
        write_page(page, title, [command(module, argv)], [measured], body)
        print(f"results page: {page}")
