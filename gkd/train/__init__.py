"""Training: ``fit`` (one loop for every task kind and method; ``fit_cohort`` for a mutual
method's cohort), ``train_teacher`` (through the teacher cache), ``train_student``,
``train_cohort``, ``predict``; teachers the user has (``teacher_from_model``,
``teacher_from_logits``); ``TrainConfig`` and ``FitResult``."""
from __future__ import annotations

from .cache import teacher_key
from .config import TrainConfig
from .external import teacher_from_logits, teacher_from_model
from .fitting import fit, fit_cohort, seed_everything, train_cohort, train_student, train_teacher
from .inference import predict, score_pairs
from .result import FitResult, loss_terms

__all__ = ["FitResult", "TrainConfig", "fit", "fit_cohort", "loss_terms", "predict", "score_pairs", "seed_everything",
           "teacher_from_logits", "teacher_from_model", "teacher_key", "train_cohort", "train_student", "train_teacher"]
