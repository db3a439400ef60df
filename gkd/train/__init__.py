"""Training: ``fit`` (one loop for every task kind and method), ``train_teacher`` (through the
teacher cache), ``train_student``, ``predict``; teachers the user has (``teacher_from_model``,
``teacher_from_logits``); ``TrainConfig`` and ``FitResult``."""
from __future__ import annotations

from .cache import teacher_key
from .config import TrainConfig
from .external import teacher_from_logits, teacher_from_model
from .fitting import fit, seed_everything, train_student, train_teacher
from .inference import predict
from .result import FitResult, loss_terms

__all__ = ["FitResult", "TrainConfig", "fit", "loss_terms", "predict", "seed_everything", "teacher_from_logits",
           "teacher_from_model", "teacher_key", "train_student", "train_teacher"]
