"""Distillation methods, one file each: ``gkd.distill.get(name, **options)``.

| family | methods |
| --- | --- |
| none | none (student alone) |
| output layer | kd (Hinton), glnn, dkd, rld, krd |
"""
from __future__ import annotations

from . import dkd, glnn, kd, krd, none, rld  # noqa: F401  (registers the methods)
from .base import Batch, Distiller, available, get, register

__all__ = ["Batch", "Distiller", "available", "get", "register"]
