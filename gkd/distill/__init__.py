"""Distillation methods, one file each: ``gkd.distill.get(name, **options)``.

| family | methods |
| --- | --- |
| none | none (student alone) |
| output layer | kd, glnn, dkd, rld, krd, cpf (own student), faithful, tgs, linkdist (no teacher), dml, ensemble |
| intermediate layer | fitnet, srd (projector + BatchNorm + LogSum), lsp, gcrd, gnnsd (no teacher) |
| constructed graph | trg (image tokens), rkd (instance relationships), nosmog (positions + similarity) |

Who teaches (``Distiller.taught_by``): a trained teacher (the methods above), several teachers
(ensemble: ``train_student`` with a list of teachers), a cohort of models teaching each other (dml:
``train_cohort``), or the model itself (self-distillation, no teacher).

Methods combine with ``+`` (``get("glnn+srd")``): their named loss terms are summed.
"""
from __future__ import annotations

from ..registry import import_modules
from .base import Batch, Distiller
from .registry import (
    METHODS,
    available,
    get,
    kinds_of,
    options_of,
    register,
    registered,
    student_model_of,
    taught_by_of,
)

import_modules(__name__, __path__)  # each method file registers itself

__all__ = ["METHODS", "Batch", "Distiller", "available", "get", "kinds_of", "options_of", "register", "registered",
           "student_model_of", "taught_by_of"]
