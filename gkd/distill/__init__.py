"""Distillation methods, one file each: ``gkd.distill.get(name, **options)``.

| family | methods |
| --- | --- |
| none | none (student alone) |
| output layer | kd (Hinton), glnn, dkd, rld, krd, cpf (with its own student), faithful |
"""
from __future__ import annotations

from . import cpf, dkd, faithful, glnn, kd, krd, none, rld  # noqa: F401  (registers the methods)
from .base import Batch, Distiller, available, get, register, registered

__all__ = ["Batch", "Distiller", "available", "get", "register", "registered"]
