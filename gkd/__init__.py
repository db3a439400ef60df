"""gkd: knowledge distillation where graphs are first-class.

    import gkd
    task = gkd.data.load("cora", split="cpf", seed=0)
    teacher = gkd.train_teacher(task, gkd.ModelSpec("sage"), gkd.TrainConfig(), seed=0)
    student = gkd.train_student(task, teacher, gkd.ModelSpec("mlp"), "glnn", gkd.TrainConfig(), seed=0)
    print(student.scores["test"])

The layout and its rules: docs/architecture.md.
"""
from __future__ import annotations

import os

os.environ.setdefault("OUTDATED_IGNORE", "1")  # ogb otherwise checks its version online on import

from . import data, distill, export, metrics, models  # noqa: E402
from .data.task import Task  # noqa: E402
from .export import load, save  # noqa: E402
from .models.spec import ModelSpec  # noqa: E402
from .outputs import Outputs  # noqa: E402
from .train import (  # noqa: E402
    FitResult,
    TrainConfig,
    fit,
    fit_cohort,
    predict,
    teacher_from_logits,
    teacher_from_model,
    train_cohort,
    train_student,
    train_teacher,
)

__version__ = "0.1.0"
__all__ = ["FitResult", "ModelSpec", "Outputs", "Task", "TrainConfig", "data", "distill", "export", "fit", "fit_cohort",
           "load", "metrics", "models", "predict", "save", "teacher_from_logits", "teacher_from_model", "train_cohort",
           "train_student", "train_teacher"]
