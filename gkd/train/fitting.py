"""``fit``: one training loop for teachers and students, full batch (node tasks) or mini-batch
(sampled nodes, graphs, images), with best-validation model selection and seeding;
``train_teacher`` (through the teacher cache) and ``train_student`` on top of it."""
from __future__ import annotations

import copy
import math
import random
import time

import numpy as np
import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from ..data.task import Task
from ..distill import registry as methods
from ..distill.base import Distiller
from ..errors import MismatchError
from ..metrics.scores import score, score_rows
from ..models.spec import ModelSpec
from . import distributed
from .cache import load_teacher, save_teacher, teacher_path
from .config import PRECISIONS, SELECTIONS, TrainConfig
from .inference import check_model, predict
from .loops import EpochState, run_epoch
from .memory import keep_freed_memory
from .result import FitResult


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's global generators."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def fit(model: nn.Module, task: Task, config: TrainConfig, *, distiller: Distiller | None = None,
        teacher: nn.Module | None = None, teacher_logits: Tensor | None = None, seed: int = 0,
        desc: str = "train") -> FitResult:
    """Train ``model`` on ``task`` under ``distiller`` (default: the student alone) and return it
    at its best-validation epoch (the distiller's own parameters, if any, are restored to that
    epoch too), or after its last epoch with ``config.selection == "last"``. ``seed`` fixes
    dropout and batch order; the initial weights are fixed by the random state when the model
    was built (``seed_everything`` before building, or pass a ``ModelSpec`` to ``train_student``).
    A teacher's knowledge comes as ``teacher_logits`` over all items (computed once, e.g. from the
    cache) and, for methods that need hidden layers, the frozen ``teacher`` module."""
    if config.precision not in PRECISIONS:
        raise ValueError(f"unknown precision {config.precision!r}; valid precisions: {', '.join(PRECISIONS)}")
    if config.selection not in SELECTIONS:
        raise ValueError(f"unknown selection {config.selection!r}; valid selections: {', '.join(SELECTIONS)} "
                         f"(the best-validation epoch, or the last epoch)")
    device = torch.device(config.device)
    check_model(model.to(device), task, "model", device)  # a plain module fails here, before training
    if teacher is not None:
        check_model(teacher.to(device), task, "teacher", device)
    seed_everything(seed)
    if device.type == "cpu":
        keep_freed_memory()  # large temporaries reuse freed pages (gkd.train.memory)
    distiller = distiller if distiller is not None else methods.get("none")
    if distiller.needs_teacher and teacher_logits is None:
        raise ValueError(f"method {distiller.name!r} needs teacher_logits (train a teacher first)")
    distiller.to(device)
    teacher_logits = None if teacher_logits is None else teacher_logits.to(device)
    if teacher is not None:
        teacher.eval()
    distiller.prepare(task=task, student=model, teacher=teacher, teacher_logits=teacher_logits)
    params = list(model.parameters()) + list(distiller.parameters())
    optimizer = torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    if config.lr_schedule not in (None, "cosine"):
        raise ValueError(f"lr_schedule: None or 'cosine', got {config.lr_schedule!r}")
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, config.epochs) if config.lr_schedule else None
    state = EpochState(task, model, distiller, optimizer, device, teacher, teacher_logits, config, seed,
                       forward_model=distributed.wrap(model))

    best_valid, best_epoch, best_state = -float("inf"), -1, None
    valid_index = task.split["valid"]
    history: list[dict] = []
    start = time.perf_counter()
    bar = tqdm(range(config.epochs), desc=desc, disable=not config.progress, leave=False)
    for epoch in bar:
        epoch_start = time.perf_counter()
        terms = run_epoch(state, epoch)
        if scheduler is not None:
            scheduler.step()
        valid_start = time.perf_counter()
        valid = score_rows(task, predict(model, task, config, valid_index), valid_index)
        history.append({"epoch": epoch, "valid": valid, "epoch_seconds": valid_start - epoch_start,
                        "valid_seconds": time.perf_counter() - valid_start, **terms})
        improved = not math.isnan(valid) and valid >= best_valid  # ties go to the later epoch
        if improved or best_epoch < 0:
            best_valid = valid if improved else best_valid
            best_epoch = epoch
            if config.selection == "best":  # "last" keeps the final weights: no copy to make
                best_state = copy.deepcopy((model.state_dict(), distiller.state_dict()))
        bar.set_postfix(valid=f"{valid:.4f}", best=f"{best_valid:.4f}")
        if epoch - best_epoch >= config.patience:
            break
    seconds = time.perf_counter() - start
    if config.selection == "last":  # the weights as training left them
        best_epoch = history[-1]["epoch"] if history else -1
    else:
        model.load_state_dict(best_state[0])
        distiller.load_state_dict(best_state[1])
    logits = predict(model, task, config)
    scores = {name: score(task, logits, idx) for name, idx in task.split.items()}
    return FitResult(model, logits, scores, best_epoch, seconds, history, distiller=distiller,
                     task=task.fingerprint(split=False))


def train_teacher(task: Task, spec: ModelSpec | nn.Module, config: TrainConfig, seed: int = 0,
                  use_cache: bool = True) -> FitResult:
    """Train a teacher: gkd's model ``spec`` (a ``ModelSpec``, built here after seeding) or a
    module of the user's (a gkd ``Model``, such as ``gkd.models.HookedModel(my_pyg_model)``; a
    plain PyG or torch module is refused with a message pointing to ``HookedModel``, before
    training, and trains from the weights it was built with).

    A ``ModelSpec`` goes through the on-disk teacher cache (``use_cache``): the file holds the
    weights, the logits on every item and the scores; on load the stored validation score is
    recomputed from the stored logits against the current labels, so a cache that no longer fits
    the data is retrained. A user's module is never cached (nothing names its code and its
    starting weights soundly), so ``use_cache`` does not apply to it: it is trained every call."""
    if not isinstance(spec, ModelSpec):
        if not isinstance(spec, nn.Module):
            raise TypeError(f"train_teacher takes a gkd.ModelSpec or a module, got {type(spec).__name__}")
        return fit(spec, task, config, seed=seed, desc=f"teacher {type(spec).__name__}")
    path = teacher_path(task, spec, config, seed)
    cached = load_teacher(path, task, spec) if use_cache and path.exists() else None
    if distributed.rank0_decides(cached is not None):  # several processes: rank 0's cache decides
        return cached if cached is not None else load_teacher(path, task, spec)
    seed_everything(seed)  # the initial weights depend on the seed too
    model = spec.build(task)
    result = fit(model, task, config, seed=seed, desc=f"teacher {spec.label()}")
    if use_cache and distributed.is_main():
        save_teacher(result, path)
    return result


def train_student(task: Task, teacher: FitResult, student: nn.Module | ModelSpec, method: str | Distiller,
                  config: TrainConfig, seed: int = 0, **options) -> FitResult:
    """Train ``student`` (a module, or a ``ModelSpec`` built here after seeding, so that its
    initial weights follow ``seed``) from ``teacher`` (a ``FitResult``, e.g. from
    ``train_teacher``, ``teacher_from_model`` or ``teacher_from_logits``) with ``method`` (a
    registered name and its ``options``, or a ``Distiller``). A teacher of logits alone (its
    ``model`` None) serves the methods that read its logits; one that needs its hidden layers is
    refused by name before training (methods that run the teacher, as ``krd``, refuse in their
    ``prepare``)."""
    distiller = methods.get(method, **options) if isinstance(method, str) else method
    if teacher.task is not None and teacher.task != task.fingerprint(split=False):
        raise MismatchError(f"the teacher was trained on other data than task {task.name!r} (features, edges, labels "
                            f"or node order differ): train the teacher on this task's data, or distil on its own")
    if teacher.model is None and distiller.needs_teacher_hidden:
        raise MismatchError(f"method {distiller.name!r} needs the teacher's hidden layers and this teacher is logits "
                            f"only (gkd.teacher_from_logits): give the model (gkd.teacher_from_model) or use an "
                            f"output-level method such as 'kd' or 'glnn'")
    if isinstance(student, ModelSpec):
        seed_everything(seed)
        student = student.build(task)
    return fit(student, task, config, distiller=distiller, teacher=teacher.model,
               teacher_logits=teacher.logits, seed=seed, desc=f"student ({distiller.name})")
