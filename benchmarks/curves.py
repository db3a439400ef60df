"""A run's per-epoch curves as TensorBoard event files (``benchmarks.run --tensorboard``).

Written from ``FitResult.history`` after the run, beside the CSV and JSON the harness always
writes: ``<out>/tensorboard/<run name>/`` holds one scalar series per loss term
(``loss/<term>``, the method's weighted terms), their sum (``loss/total``), the validation score
(``valid/<metric>``) and the epoch's wall time (``time/epoch_seconds``), each stepped by epoch.
The run name reads ``<dataset>[-<setting>][-<protocol>]/<teacher>-<student>-<method>-seed<seed>-<hash>``;
the hash is of the run key, so a run with other options gets a folder of its own.
"""
from __future__ import annotations

import hashlib
import importlib.util
import re
import sys
from collections.abc import Callable
from pathlib import Path

from gkd.train import loss_terms


def available() -> bool:
    """Whether the ``tensorboard`` package (which ``torch.utils.tensorboard`` needs) is installed."""
    return importlib.util.find_spec("tensorboard") is not None


def run_name(record: dict, key: str) -> str:
    """The folder of one run under ``<out>/tensorboard/``: readable labels, then a hash of ``key``."""
    group = "-".join(p for p in (record["dataset"], record.get("setting", "transductive"), record.get("protocol"))
                     if p and p != "transductive")
    leaf = f"{record['teacher']}-{record['student']}-{record['method']}-seed{record['seed']}"
    digest = hashlib.sha1(key.encode()).hexdigest()[:8]
    return f"{_safe(group)}/{_safe(leaf)}-{digest}"


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.+-]", "_", text)


def write(folder: Path, history: list[dict], metric: str = "score") -> Path:
    """Write ``history`` (``FitResult.history``: one record per epoch) as scalars into ``folder``."""
    from torch.utils.tensorboard import SummaryWriter  # only when asked for: the import takes seconds

    folder.mkdir(parents=True, exist_ok=True)
    with SummaryWriter(log_dir=str(folder)) as events:
        for record in history:
            step = int(record["epoch"])
            terms = loss_terms(record)
            for name, value in terms.items():
                events.add_scalar(f"loss/{name}", float(value), step)
            events.add_scalar("loss/total", float(sum(terms.values())), step)
            if record.get("valid") is not None:
                events.add_scalar(f"valid/{metric}", float(record["valid"]), step)
            if record.get("epoch_seconds") is not None:
                events.add_scalar("time/epoch_seconds", float(record["epoch_seconds"]), step)
    return folder


def writer(out: Path, record: dict, key: str) -> Callable[[list[dict]], None]:
    """What ``benchmarks.single.student_run`` calls with a finished run's history: writes it under
    ``out/tensorboard/<run name>``; a failure to write is reported and the run is kept."""
    def write_history(history: list[dict]) -> None:
        folder = out / "tensorboard" / run_name(record, key)
        try:
            write(folder, history, record.get("metric") or "score")
        except OSError as exc:
            print(f"warning: the TensorBoard events of {folder} were not written ({exc}); check that the folder is "
                  f"writable", file=sys.stderr)

    return write_history
