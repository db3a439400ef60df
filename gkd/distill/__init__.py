"""Distillation methods, one file each: ``gkd.distill.get(name, **options)``.

| family | methods |
| --- | --- |
| none | none (student alone) |
| output layer | kd (Hinton), glnn, dkd, rld, krd, cpf (with its own student), faithful |
| intermediate layer | fitnet, srd (projector + BatchNorm + LogSum), lsp, gcrd |
| constructed graph | trg (image tokens), rkd (instance relationships), nosmog (positions + similarity) |

Methods combine with ``+`` (``get("glnn+srd")``): their named loss terms are summed.
"""
from __future__ import annotations

from . import cpf, dkd, faithful, fitnet, gcrd, glnn, kd, krd, lsp, none, nosmog, rkd, rld, srd, trg  # noqa: F401  (registers the methods)
from .base import Batch, Distiller
from .registry import available, get, kinds_of, register, registered, student_model_of

__all__ = ["Batch", "Distiller", "available", "get", "kinds_of", "register", "registered", "student_model_of"]
