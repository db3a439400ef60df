"""Distillation methods, one file each: ``gkd.distill.get(name, **options)``.

| family | methods |
| --- | --- |
| none | none (student alone) |
| output layer | kd (Hinton), glnn, dkd, rld, krd, cpf (with its own student), faithful, linkdist (self-taught) |
| intermediate layer | fitnet, srd (projector + BatchNorm + LogSum), lsp, gcrd |
| constructed graph | trg (image tokens), rkd (instance relationships), nosmog (positions + similarity) |

Methods combine with ``+`` (``get("glnn+srd")``): their named loss terms are summed.
"""
from __future__ import annotations

from ..registry import import_modules
from .base import Batch, Distiller
from .registry import METHODS, available, get, kinds_of, options_of, register, registered, student_model_of

import_modules(__name__, __path__)  # each method file registers itself

__all__ = ["METHODS", "Batch", "Distiller", "available", "get", "kinds_of", "options_of", "register", "registered",
           "student_model_of"]
