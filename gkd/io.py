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

import contextlib
import fcntl
import glob
import hashlib
import json
import os
import tempfile
import warnings
from collections.abc import Callable, Iterator
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
    """The cache folder (``GKD_CACHE_DIR`` or ``~/.cache/gkd``), or its subfolder ``sub``. It is
    not created here: a cache write creates it, and a cache that cannot be written is skipped
    (``write_cache``), so gkd runs without a writable cache."""
    base = Path(os.environ.get("GKD_CACHE_DIR") or Path.home() / ".cache" / "gkd").expanduser()
    return base / sub if sub else base


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


def _remove_orphans(path: Path) -> None:
    """Delete temporary files a killed writer of ``path`` left (``.<name>.<pid>.*.tmp`` whose
    process is gone); others' live temporary files and foreign files are left alone."""
    for tmp in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        pid = tmp.name[len(path.name) + 2:].split(".", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not process_alive(int(pid)):
            with contextlib.suppress(OSError):
                tmp.unlink()


def atomic_write(path: str | os.PathLike, write: Callable[[IO[bytes]], Any]) -> Path:
    """Write ``path`` through ``write(handle)`` into a temporary file in the same folder, flushed
    to disk, then renamed over ``path``: readers see the old file or the whole new one, never a
    part. The folder is created; the file gets the permissions the umask gives a new file; the
    temporary file is removed when ``write`` fails, and those of writers that were killed are
    removed on the next write."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    _remove_orphans(path)
    return path


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> None:
    atomic_write(path, lambda handle: torch.save(obj, handle))


def atomic_write_text(text: str, path: str | os.PathLike) -> None:
    atomic_write(path, lambda handle: handle.write(text.encode()))


@contextlib.contextmanager
def file_lock(path: str | os.PathLike) -> Iterator[None]:
    """Hold an exclusive lock on ``<path>.lock`` (``flock``: released when the holder exits, even
    when it is killed), so that processes sharing ``path`` take turns."""
    lock = Path(f"{path}.lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def append_jsonl(record: dict, path: str | os.PathLike) -> None:
    """Append one JSON line: under ``file_lock``, the file is rewritten atomically with the line
    added (results files stay small), so concurrent writers lose no line and a killed one leaves
    no half line."""
    path = Path(path)
    line = json.dumps(record, sort_keys=True).encode() + b"\n"
    with file_lock(path):
        old = path.read_bytes() if path.exists() else b""
        if old and not old.endswith(b"\n"):
            old += b"\n"
        atomic_write(path, lambda handle: handle.write(old + line))


def read_jsonl(path: str | os.PathLike) -> list[dict]:
    """The JSON objects of ``path``, one per line; a line that is not one (cut short, edited) is
    skipped with a warning naming the file and the line, and left in the file."""
    path = Path(path)
    if not path.exists():
        return []
    records = []
    for number, line in enumerate(path.read_text(errors="replace").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            warnings.warn(f"{path}:{number}: skipping a line that is not a JSON record ({exc.msg}); "
                          f"it stays in the file", stacklevel=2)
            continue
        if isinstance(record, dict):
            records.append(record)
        else:
            warnings.warn(f"{path}:{number}: skipping a line that is not a JSON object", stacklevel=2)
    return records


def file_digest(path: str | os.PathLike) -> str:
    """SHA-256 of a file's bytes (read in 1 MiB blocks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_cache(path: str | os.PathLike) -> Any | None:
    """A cache file's contents (``torch.load`` with ``weights_only=True``: tensors, containers,
    numbers and strings, nothing that runs), or None when it is absent; an unreadable or hostile
    file is ignored with a warning (the caller rebuilds it)."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated, another format, or a pickle that names code: rebuild, never trust
        warnings.warn(f"ignoring unreadable cache {path} ({type(exc).__name__}: {str(exc)[:200]}); rebuilding it",
                      stacklevel=2)
        return None


def write_cache(obj: Any, path: str | os.PathLike) -> bool:
    """Save ``obj`` to a cache file (atomically); a cache that cannot be written (read-only, full)
    is skipped with a warning. Returns whether it was written."""
    try:
        atomic_torch_save(obj, path)
    except OSError as exc:
        warnings.warn(f"could not write cache {path} ({exc}); going on without it", stacklevel=2)
        return False
    return True
