"""Where gkd reads data and writes caches, and how it writes files: atomically, so that a reader
never sees a half-written result or cache.

Data root, first match wins: an explicit ``root`` argument, the ``GKD_DATA_ROOT`` environment
variable, ``./datasets``. The root is laid out like gkd's shared data folder::

    <root>/planetoid/Cora/raw/ind.cora.*      Planetoid (Cora, CiteSeer, PubMed)
    <root>/ogb/ogbn_arxiv/raw/*.csv.gz         OGB, one folder per dataset, OGB's own layout
    <root>/cifar10/...                         image sets

The data root may be read-only. Everything gkd derives (processed graphs, teacher outputs) goes
to the cache folder: ``GKD_CACHE_DIR`` or ``~/.cache/gkd``.
"""
from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import torch


def data_root(root: str | os.PathLike | None = None) -> Path:
    """The data root: ``root`` when given, else ``GKD_DATA_ROOT``, else ``./datasets``."""
    if root is not None:
        return Path(root).expanduser()
    env = os.environ.get("GKD_DATA_ROOT")
    if env:
        return Path(env).expanduser()
    return Path("datasets")


def cache_dir(sub: str = "") -> Path:
    """The cache folder (``GKD_CACHE_DIR`` or ``~/.cache/gkd``), or its subfolder ``sub``; created."""
    base = Path(os.environ.get("GKD_CACHE_DIR") or Path.home() / ".cache" / "gkd").expanduser()
    path = base / sub if sub else base
    path.mkdir(parents=True, exist_ok=True)
    return path


def atomic_write(path: str | os.PathLike, write: Callable[[IO[bytes]], Any]) -> Path:
    """Write ``path`` through ``write(handle)`` into a temporary file in the same folder, flushed
    to disk, then renamed over ``path``: readers see the old file or the whole new one, never a
    part. The folder is created; the temporary file is removed when ``write`` fails."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> None:
    atomic_write(path, lambda handle: torch.save(obj, handle))


def atomic_write_text(text: str, path: str | os.PathLike) -> None:
    atomic_write(path, lambda handle: handle.write(text.encode()))


def append_jsonl(record: dict, path: str | os.PathLike) -> None:
    """Append one JSON line by rewriting the file atomically (results files stay small)."""
    path = Path(path)
    old = path.read_bytes() if path.exists() else b""
    if old and not old.endswith(b"\n"):
        old += b"\n"
    line = json.dumps(record, sort_keys=True).encode() + b"\n"
    atomic_write(path, lambda handle: handle.write(old + line))


def read_jsonl(path: str | os.PathLike) -> list[dict]:
    path = Path(path)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
