"""Datasets as ``Task`` objects: ``gkd.data.load(name, root=...)``, ``gkd.data.available()``; the
table of every dataset is ``gkd.data.DATASETS`` (``catalog``). Every module of this folder is
imported here, so each loader registers the datasets it loads."""
from __future__ import annotations

from ..registry import import_modules
from .catalog import DATASETS, Dataset, available, load, needs_files, register, row_normalised
from .task import Task

import_modules(__name__, __path__)

__all__ = ["DATASETS", "Dataset", "Task", "available", "load", "needs_files", "register", "row_normalised"]
