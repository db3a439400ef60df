"""Distillation methods, one file each: ``gkd.distill.get(name, **options)``.

| family | methods |
| --- | --- |
| none | none (student alone) |
| output layer | kd (Hinton), glnn |
"""
from __future__ import annotations

from . import glnn, kd, none  # noqa: F401  (registers the methods)
from .base import Batch, Distiller, available, get, register

__all__ = ["Batch", "Distiller", "available", "get", "register"]
