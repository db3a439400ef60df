"""The table of datasets: every name ``gkd.data.load`` knows, with its loader, its kind, its splits
and the files it needs under the data root. A loader registers the names it loads with
``@register(...)`` in its own module; ``gkd.data`` imports every module of its folder, so a new
loader file needs no other edit."""
from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from torch import Tensor

from ..io import data_root
from ..registry import Registry
from .task import Kind, Task

Loader = Callable[..., Task]
"""``loader(name, root, *, seed, download[, split][, subset]) -> Task``: ``split`` when the dataset
has several splits, ``subset`` when it can train on part of its training set."""


@dataclass(frozen=True)
class Dataset:
    """One loadable dataset. ``splits``: the split names it offers, its default first.
    ``files``: where its files go under the data root (None: embedded, no file needed).
    ``takes_subset``: whether it can train on ``subset`` of its training items (CIFAR)."""

    name: str
    kind: Kind
    loader: Loader
    splits: tuple[str, ...]
    files: str | None
    takes_subset: bool = False


DATASETS: Registry[Dataset] = Registry("dataset")


def register(*names: str, kind: Kind, splits: tuple[str, ...], files: Callable[[str], str] | None = None,
             takes_subset: bool = False) -> Callable[[Loader], Loader]:
    """Decorator on a loader: add a ``Dataset`` for each of ``names``; ``files(name)`` says where its
    files go under the data root (leave it out for embedded data)."""
    def decorate(loader: Loader) -> Loader:
        for name in names:
            DATASETS.add(name, Dataset(name, kind, loader, splits, files(name) if files else None, takes_subset))
        return loader

    return decorate


def available() -> list[str]:
    """Every dataset name ``load`` knows."""
    return DATASETS.names()


def needs_files(name: str) -> bool:
    """Whether ``name`` is read from the data root (False for the embedded tasks)."""
    return DATASETS[name.lower()].files is not None


def row_normalised(x: Tensor) -> Tensor:
    """Each row of ``x`` divided by its sum; a row summing to 0 stays as it is (CPF's
    ``normalize_features``; for binary bag-of-words features each row then sums to 1)."""
    sums = x.sum(dim=1, keepdim=True)
    return x / sums.masked_fill(sums == 0, 1)


def load(name: str, root: str | os.PathLike | None = None, *, split: str | None = None, seed: int = 0,
         download: bool = False, subset: int | None = None, normalize_features: bool = False) -> Task:
    """Load ``name`` as a ``Task``.

    ``root``: the data root (default ``GKD_DATA_ROOT`` or ``./datasets``). ``split``: one of the
    dataset's splits (``DATASETS[name].splits``; default its first): for Planetoid sets
    ``public``, ``cpf`` (20 train / 30 valid labels per class) or ``random`` (60/20/20); OGB sets
    have their official split. ``seed``: draws random splits and synthetic data. ``subset``: for
    CIFAR, that many training images (class-balanced) for a run that fits a CPU. ``download``:
    fetch missing OGB / Planetoid files (needs a network); otherwise a missing dataset raises
    ``DataNotFoundError`` naming the files. ``normalize_features``: node tasks' features
    row-normalised (``row_normalised``; CPF's code trains so, GLNN's and NOSMOG's on the raw
    features); the task's fingerprint, hence its teacher caches, tells the two apart.
    """
    entry = DATASETS[name.lower()]
    split = entry.splits[0] if split is None else split
    if split not in entry.splits:
        raise ValueError(f"unknown split {split!r} for {entry.name}; valid splits: {', '.join(entry.splits)}")
    if subset is not None and not entry.takes_subset:
        subsets = ", ".join(n for n, d in DATASETS.items() if d.takes_subset)
        raise ValueError(f"dataset {entry.name!r} takes no subset (only {subsets} do); leave subset unset")
    options: dict = {"seed": seed, "download": download}
    if len(entry.splits) > 1:
        options["split"] = split
    if entry.takes_subset:
        options["subset"] = subset
    if normalize_features and entry.kind != "node":
        raise ValueError(f"normalize_features applies to node tasks' feature rows; {entry.name!r} is a "
                         f"{entry.kind} task: leave it False")
    task = entry.loader(entry.name, Path(data_root(root)), **options)
    if not normalize_features:
        return task
    graph = task.data.clone()
    graph.x = row_normalised(graph.x.float())
    return dataclasses.replace(task, data=graph, info={**task.info, "features": "row-normalised"})
