"""Datasets as ``Task`` objects: ``gkd.data.load(name, root=...)``, ``gkd.data.available()``."""
from __future__ import annotations

import os

from ..errors import UnknownNameError
from ..io import data_root
from .task import Task

_OGB_NODE = ("ogbn-arxiv", "ogbn-products")
_OGB_GRAPH = ("ogbg-molhiv", "ogbg-molpcba")
_PLANETOID = ("cora", "citeseer", "pubmed")
_SYNTHETIC_NODE = ("synthetic", "synthetic-arxiv", "synthetic-products")
_SYNTHETIC_GRAPH = ("synthetic-graphs",)
_IMAGES = ("cifar10", "cifar100")
_EMBEDDED_IMAGES = ("digits",)


def available() -> list[str]:
    return sorted(_PLANETOID + _OGB_NODE + _OGB_GRAPH + _SYNTHETIC_NODE + _SYNTHETIC_GRAPH + _IMAGES + _EMBEDDED_IMAGES)


def needs_files(name: str) -> bool:
    """Whether ``name`` is read from the data root (False for the embedded synthetic tasks)."""
    return name not in _SYNTHETIC_NODE + _SYNTHETIC_GRAPH + _EMBEDDED_IMAGES


def load(name: str, root: str | os.PathLike | None = None, *, split: str = "public", seed: int = 0,
         download: bool = False, subset: int | None = None) -> Task:
    """Load ``name`` as a ``Task``.

    ``root``: the data root (default ``GKD_DATA_ROOT`` or ``./datasets``). ``split``: for
    Planetoid sets, ``public`` or ``cpf``; OGB sets always use their official split. ``seed``:
    draws random splits and synthetic data. ``subset``: for CIFAR, that many training images
    (class-balanced) for a run that fits a CPU. ``download``: fetch missing OGB / Planetoid files
    (needs a network); otherwise a missing dataset raises ``DataNotFoundError`` naming the files.
    """
    key = name.lower()
    path = data_root(root)
    if key in _PLANETOID:
        from .planetoid import load_planetoid

        return load_planetoid(key, path, split=split, seed=seed, download=download)
    if key in _OGB_NODE:
        from .ogb import load_ogb_node

        return load_ogb_node(key, path, download=download)
    if key in _OGB_GRAPH:
        from .ogb import load_ogb_graph

        return load_ogb_graph(key, path, download=download)
    if key in _SYNTHETIC_NODE:
        from .synthetic import NODE_PRESETS, csbm

        return csbm(**NODE_PRESETS[key], seed=seed, name=key)
    if key in _SYNTHETIC_GRAPH:
        from .synthetic import graph_classes

        return graph_classes(seed=seed, name=key)
    if key in _EMBEDDED_IMAGES:
        from .images import load_digits

        return load_digits(seed=seed)
    if key in _IMAGES:
        from .images import load_cifar

        return load_cifar(key, path, seed=seed, subset=subset)
    raise UnknownNameError("dataset", name, available())


__all__ = ["Task", "available", "load", "needs_files"]
