"""Where gkd reads data from and writes caches to.

Data root, first match wins: an explicit ``root`` argument, the ``GKD_DATA_ROOT`` environment
variable, ``./datasets``. The root is laid out like gkd's shared data folder::

    <root>/planetoid/Cora/raw/ind.cora.*      Planetoid (Cora, CiteSeer, PubMed)
    <root>/ogb/ogbn_arxiv/raw/*.csv.gz         OGB, one folder per dataset, OGB's own layout
    <root>/cifar10/...                         image sets

The data root may be read-only. Everything gkd derives (processed graphs, teacher outputs) goes
to the cache folder: ``GKD_CACHE_DIR`` or ``~/.cache/gkd``.
"""
from __future__ import annotations

import os
from pathlib import Path


def data_root(root: str | os.PathLike | None = None) -> Path:
    if root is not None:
        return Path(root).expanduser()
    env = os.environ.get("GKD_DATA_ROOT")
    if env:
        return Path(env).expanduser()
    return Path("datasets")


def cache_dir(sub: str = "") -> Path:
    base = Path(os.environ.get("GKD_CACHE_DIR") or Path.home() / ".cache" / "gkd").expanduser()
    path = base / sub if sub else base
    path.mkdir(parents=True, exist_ok=True)
    return path
