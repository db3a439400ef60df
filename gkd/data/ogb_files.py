"""What the OGB loaders share (``ogb``: node and graph sets; ``ogb_links``: link sets): the ``ogb``
package's master.csv, a set's folder under the data root, the error that lists the files to
place, the download of OGB's zip, OGB's header-less csv.gz files, and the cache of processed
tensors.

A set lives in ``<root>/ogb/<name with "_" for "-">/``, as OGB's zip unpacks once its top folder
is renamed. Nothing is written inside the data root unless ``download=True``. A processed result
is cached under ``cache_dir("ogb") / <name> / <key>.pt``, the key hashing a format version, the
set's name and the names (under its folder) and bytes of the files it was read from; the cache
holds tensors, numbers and strings only and is read with ``weights_only=True`` (``read_cache``:
nothing in it runs); an unreadable one is rebuilt.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterable
from functools import lru_cache
from importlib.util import find_spec
from pathlib import Path

os.environ.setdefault("OUTDATED_IGNORE", "1")  # before any ogb import: no online version check

import numpy as np
import pandas as pd

from ..errors import DataNotFoundError
from ..io import cache_dir, file_digest, read_cache, write_cache

PAYLOAD = frozenset({"data", "split", "info"})
"""The keys of a cached payload, unless a loader says otherwise."""


@lru_cache(maxsize=None)
def master(level: str) -> pd.DataFrame:
    """The ``ogb`` package's master.csv of ``level`` (``node``, ``graph`` or ``link``): one column
    per dataset."""
    spec = find_spec("ogb")
    if spec is None or spec.origin is None:
        raise ImportError("the 'ogb' package is required for OGB datasets: pip install ogb")
    path = Path(spec.origin).parent / f"{level}proppred" / "master.csv"
    # keep_default_na=False keeps "None" and empty cells as strings, as OGB reads it.
    return pd.read_csv(path, index_col=0, keep_default_na=False)


def dataset_folder(root: str | os.PathLike, name: str) -> Path:
    """``<root>/ogb/<name with "_" for "-">``."""
    return Path(root) / "ogb" / name.replace("-", "_")


def read_array(path: Path) -> np.ndarray:
    """A header-less OGB csv.gz as int64 (integer columns) or float32 (anything else), as OGB."""
    values = pd.read_csv(path, compression="gzip", header=None).values
    return values.astype(np.int64 if "int" in str(values.dtype) else np.float32)


def prepare(name: str, url: str, folder: Path, required: list[str], download: bool) -> None:
    """Check that every ``required`` file (a path under ``folder``) is there, fetching OGB's zip
    first when ``download``; otherwise raise ``DataNotFoundError`` listing them."""
    missing = _missing(folder, required)
    if missing and download:
        _download(name, url, folder, required)
        missing = _missing(folder, required)
    if missing:
        raise _not_found(name, url, folder, required, missing, "downloaded archive lacks files" if download else "")


def _missing(folder: Path, required: list[str]) -> list[str]:
    return [f for f in required if not (folder / f).is_file()]


def _not_found(name: str, url: str, folder: Path, required: list[str], missing: list[str],
               reason: str = "") -> DataNotFoundError:
    lines = "\n".join(f"  {folder / f}{'   (missing)' if f in missing else ''}" for f in required)
    return DataNotFoundError(
        f"{name} is not complete on disk{': ' + reason if reason else ''}.\n"
        f"Place OGB's files for it in {folder} (OGB's zip {url} unpacked, its top folder "
        f"renamed to {folder.name}):\n"
        f"{lines}\n"
        f"(the data root is {folder.parent.parent}; set it with --root or GKD_DATA_ROOT), or pass "
        f"download=True (CLI --download) to fetch it when a network is available."
    )


def _download(name: str, url: str, folder: Path, required: list[str]) -> None:
    """Fetch OGB's zip into a scratch folder beside ``folder``, then move its top folder (e.g.
    ``arxiv``) to ``folder``; files already in ``folder`` that the zip lacks are kept."""
    from ogb.utils.url import download_url, extract_zip

    folder.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.download."))
    try:
        archive = Path(download_url(url, str(scratch), log=False))
        extract_zip(str(archive), str(scratch), log=False)
        archive.unlink()
        entries = list(scratch.iterdir())  # OGB's zips hold one top folder, e.g. "arxiv"
        top = entries[0] if len(entries) == 1 and entries[0].is_dir() else scratch
        shutil.copytree(top, folder, dirs_exist_ok=True)
    except (OSError, RuntimeError, zipfile.BadZipFile) as exc:
        raise _not_found(name, url, folder, required, _missing(folder, required),
                         f"download from {url} failed ({exc})") from exc
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def cache_key(name: str, version: int, folder: Path, files: Iterable[Path]) -> str:
    """A hash of the format ``version``, the set's ``name`` and ``files``: their names under
    ``folder`` and their bytes, in the order given."""
    digest = hashlib.sha256(f"v{version}|{name}".encode())
    for path in files:
        digest.update(f"|{path.relative_to(folder)}|{file_digest(path)}".encode())
    return digest.hexdigest()[:20]


def cached(name: str, version: int, folder: Path, files: Iterable[Path], build: Callable[[], dict],
           keys: frozenset[str] = PAYLOAD) -> tuple[dict, Path, bool]:
    """The processed payload (a dict with ``keys``) from the cache, or built and cached; also its
    file and whether it hit (``cache_key`` names the file)."""
    path = cache_dir("ogb") / name / f"{cache_key(name, version, folder, files)}.pt"
    payload = read_cache(path)
    if isinstance(payload, dict) and keys <= set(payload):
        return payload, path, True
    payload = build()
    write_cache(payload, path)
    return payload, path, False
