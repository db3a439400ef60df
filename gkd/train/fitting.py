"""``fit``: one training loop for teachers and students, full batch (node tasks) or mini-batch
(sampled nodes, graphs, images), with best-validation model selection and seeding;
``train_teacher`` (through the teacher cache) and ``train_student`` on top of it."""
from __future__ import annotations

import copy
import math
import random
import time
from dataclasses import dataclass

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
from .teacher_outputs import each


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's global generators."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


Teacher = nn.Module | list[nn.Module] | None
"""The frozen teacher a method runs (its hidden layers): one module, several (an ensemble), or none."""


def fit(model: nn.Module, task: Task, config: TrainConfig, *, distiller: Distiller | None = None,
        teacher: Teacher = None, teacher_logits: Tensor | list[Tensor] | None = None, seed: int = 0,
        desc: str = "train") -> FitResult:
    """Train ``model`` on ``task`` under ``distiller`` (default: the student alone) and return it
    at its best-validation epoch (the distiller's own parameters, if any, are restored to that
    epoch too), or after its last epoch with ``config.selection == "last"``. ``seed`` fixes
    dropout and batch order; the initial weights are fixed by the random state when the model
    was built (``seed_everything`` before building, or pass a ``ModelSpec`` to ``train_student``).
    A teacher's knowledge comes as ``teacher_logits`` over all items (computed once, e.g. from the
    cache) and, for methods that need hidden layers, the frozen ``teacher`` module; a method taught
    by several teachers (``taught_by == "ensemble"``) takes a list of each. A mutual method trains
    a cohort: ``fit_cohort``."""
    distiller = distiller if distiller is not None else methods.get("none")
    if distiller.taught_by == "mutual":
        raise ValueError(f"method {distiller.name!r} trains a cohort of models that teach each other: "
                         f"call gkd.fit_cohort([model, peer, ...], ...) or gkd.train_cohort")
    return _fit_members([model], task, config, distiller, teacher, teacher_logits, seed, desc)[0]


def fit_cohort(models: list[nn.Module], task: Task, config: TrainConfig, *, distiller: Distiller, seed: int = 0,
               desc: str = "cohort") -> list[FitResult]:
    """Train a cohort of models together under a mutual method (``distiller.taught_by ==
    "mutual"``, such as ``dml``): at every step each model runs on the same batch and learns from
    its labels and from the others' outputs (detached: each model's loss moves only its own
    weights). Each model has its own optimiser and its own best-validation epoch, to which it is
    restored; training stops when every model has gone ``config.patience`` epochs without
    improving. Returns one ``FitResult`` per model, in order; the loss terms of model ``k`` are
    recorded in each epoch's history as ``"k.term"``."""
    if distiller.taught_by != "mutual":
        raise ValueError(f"fit_cohort trains mutual methods (taught_by 'mutual'); method {distiller.name!r} is "
                         f"taught by {distiller.taught_by}: use gkd.fit")
    if len(models) < 2:
        raise ValueError(f"a cohort needs at least two models, got {len(models)}")
    if distributed.active():
        raise ValueError("cohort training runs in one process; run it without torchrun")
    return _fit_members(models, task, config, distiller, None, None, seed, desc)


@dataclass
class _Member:
    """One model of a training run with its optimiser, schedule and best epoch so far."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler | None
    best_valid: float = -float("inf")
    best_epoch: int = -1
    best_state: dict | None = None


def _fit_members(models: list[nn.Module], task: Task, config: TrainConfig, distiller: Distiller, teacher: Teacher,
                 teacher_logits: Tensor | list[Tensor] | None, seed: int, desc: str) -> list[FitResult]:
    """The loop of ``fit`` (one model) and ``fit_cohort`` (several)."""
    if config.precision not in PRECISIONS:
        raise ValueError(f"unknown precision {config.precision!r}; valid precisions: {', '.join(PRECISIONS)}")
    if config.selection not in SELECTIONS:
        raise ValueError(f"unknown selection {config.selection!r}; valid selections: {', '.join(SELECTIONS)} "
                         f"(the best-validation epoch, or the last epoch)")
    if config.lr_schedule not in (None, "cosine"):
        raise ValueError(f"lr_schedule: None or 'cosine', got {config.lr_schedule!r}")
    if task.kind not in distiller.kinds:
        fitting = [name for name in methods.available() if task.kind in methods.kinds_of(name)]
        raise MismatchError(f"method {distiller.name!r} is built for {', '.join(distiller.kinds) or 'no'} tasks, not "
                            f"the {task.kind} task {task.name!r}; methods for {task.kind} tasks: {', '.join(fitting)}")
    device = torch.device(config.device)
    for k, model in enumerate(models):  # a plain module fails here, before training
        check_model(model.to(device), task, "model" if len(models) == 1 else f"cohort model {k}", device)
    several = isinstance(teacher_logits, list)
    if distiller.taught_by == "ensemble" and not several:
        raise ValueError(f"method {distiller.name!r} learns from several teachers: give teacher_logits as a list")
    if several and distiller.needs_teacher_hidden:
        raise ValueError(f"method {distiller.name!r} reads a teacher's hidden layers; several teachers are taught "
                         f"from their logits alone (an output-level ensemble method such as 'ensemble')")
    if several and distiller.taught_by != "ensemble":
        raise ValueError(f"method {distiller.name!r} learns from one teacher; got {len(teacher_logits)} teachers' "
                         f"logits (an ensemble method such as 'ensemble' takes several)")
    for module in teacher if isinstance(teacher, list) else [teacher] if teacher is not None else []:
        check_model(module.to(device), task, "teacher", device)
        module.eval()
    seed_everything(seed)
    if device.type == "cpu":
        keep_freed_memory()  # large temporaries reuse freed pages (gkd.train.memory)
    if distiller.needs_teacher and teacher_logits is None:
        raise ValueError(f"method {distiller.name!r} needs teacher_logits (train a teacher first)")
    distiller.to(device)
    teacher_logits = None if teacher_logits is None else each(teacher_logits, lambda t: t.to(device))
    distiller.prepare(task=task, student=models[0], teacher=teacher, teacher_logits=teacher_logits)
    members = []
    for k, model in enumerate(models):  # the method's own parameters train with the first model
        params = list(model.parameters()) + (list(distiller.parameters()) if k == 0 else [])
        optimizer = torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, config.epochs) if config.lr_schedule else None
        members.append(_Member(model, optimizer, schedule))
    state = EpochState(task, models[0], distiller, members[0].optimizer, device, teacher, teacher_logits, config, seed,
                       forward_model=distributed.wrap(models[0]) if len(models) == 1 else None,
                       cohort=models if len(models) > 1 else None,
                       cohort_optimizers=[m.optimizer for m in members])

    valid_index = task.split["valid"]
    history: list[dict] = []
    start = time.perf_counter()
    bar = tqdm(range(config.epochs), desc=desc, disable=not config.progress, leave=False)
    for epoch in bar:
        epoch_start = time.perf_counter()
        terms = run_epoch(state, epoch)
        for member in members:
            if member.scheduler is not None:
                member.scheduler.step()
        valid_start = time.perf_counter()
        scores = [score_rows(task, predict(m.model, task, config, valid_index), valid_index) for m in members]
        record = {"epoch": epoch, "valid": scores[0], "epoch_seconds": valid_start - epoch_start,
                  "valid_seconds": time.perf_counter() - valid_start, **terms}
        if len(members) > 1:
            record["valid_cohort"] = scores
        history.append(record)
        for k, (member, valid) in enumerate(zip(members, scores)):
            improved = not math.isnan(valid) and valid >= member.best_valid  # ties go to the later epoch
            if improved or member.best_epoch < 0:
                member.best_valid = valid if improved else member.best_valid
                member.best_epoch = epoch
                if config.selection == "best":  # "last" keeps the final weights: no copy to make
                    own = distiller.state_dict() if k == 0 else {}
                    member.best_state = copy.deepcopy((member.model.state_dict(), own))
        bar.set_postfix(valid=f"{scores[0]:.4f}", best=f"{members[0].best_valid:.4f}")
        if all(epoch - m.best_epoch >= config.patience for m in members):
            break
    seconds = time.perf_counter() - start
    results = []
    for k, member in enumerate(members):
        best_epoch = member.best_epoch
        if config.selection == "last":  # the weights as training left them
            best_epoch = history[-1]["epoch"] if history else -1
        else:
            member.model.load_state_dict(member.best_state[0])
            if k == 0:
                distiller.load_state_dict(member.best_state[1])
        logits = predict(member.model, task, config)
        split_scores = {name: score(task, logits, idx) for name, idx in task.split.items()}
        results.append(FitResult(member.model, logits, split_scores, best_epoch, seconds, history,
                                 distiller=distiller if k == 0 else None, task=task.fingerprint(split=False)))
    return results


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


def train_student(task: Task, teacher: FitResult | list[FitResult] | None, student: nn.Module | ModelSpec,
                  method: str | Distiller, config: TrainConfig, seed: int = 0, **options) -> FitResult:
    """Train ``student`` (a module, or a ``ModelSpec`` built here after seeding, so that its
    initial weights follow ``seed``) from ``teacher`` (a ``FitResult``, e.g. from
    ``train_teacher``, ``teacher_from_model`` or ``teacher_from_logits``) with ``method`` (a
    registered name and its ``options``, or a ``Distiller``). A method taught by several teachers
    (``ensemble``) takes a list of them; a self-distillation method (``taught_by == "self"``) and
    the student alone (``none``) take None (a teacher given is not used). A teacher of logits alone
    (its ``model`` None) serves the methods that read its logits; one that needs its hidden layers
    is refused by name before training (methods that run the teacher, as ``krd``, refuse in their
    ``prepare``). Mutual methods train a cohort: ``train_cohort``."""
    distiller = methods.get(method, **options) if isinstance(method, str) else method
    if distiller.taught_by == "mutual":
        raise ValueError(f"method {distiller.name!r} trains a cohort of models that teach each other: "
                         f"call gkd.train_cohort(task, [student, peer, ...], {distiller.name!r}, config)")
    teachers = teacher if isinstance(teacher, list) else [] if teacher is None else [teacher]
    if distiller.taught_by == "ensemble" and len(teachers) < 2:
        raise ValueError(f"method {distiller.name!r} learns from several teachers: give a list of at least two "
                         f"FitResults, got {len(teachers)}")
    if distiller.taught_by != "ensemble" and len(teachers) > 1:
        raise ValueError(f"method {distiller.name!r} learns from one teacher, got {len(teachers)}: give one "
                         f"FitResult, or use a several-teacher method ({_methods_taught('ensemble')})")
    if distiller.needs_teacher and not teachers:
        raise ValueError(f"method {distiller.name!r} is taught by a teacher: give a FitResult (gkd.train_teacher, "
                         f"teacher_from_model or teacher_from_logits), or use a method that needs none "
                         f"({_methods_taught('self', 'labels')})")
    for one in teachers:
        if one.task is not None and one.task != task.fingerprint(split=False):
            raise MismatchError(f"the teacher was trained on other data than task {task.name!r} (features, edges, "
                                f"labels or node order differ): train the teacher on this task's data, or distil "
                                f"on its own")
        if one.model is None and distiller.needs_teacher and task.kind == "link":
            raise MismatchError(f"method {distiller.name!r} on link task {task.name!r} runs the teacher on the pairs "
                                f"it samples, and this teacher is logits only: give the model (gkd.teacher_from_model)")
        if one.model is None and distiller.needs_teacher_hidden:
            raise MismatchError(f"method {distiller.name!r} needs the teacher's hidden layers and this teacher is "
                                f"logits only (gkd.teacher_from_logits): give the model (gkd.teacher_from_model) or "
                                f"use an output-level method such as 'kd' or 'glnn'")
    if isinstance(student, ModelSpec):
        seed_everything(seed)
        student = student.build(task)
    if not distiller.needs_teacher:
        model, logits = None, None
    elif distiller.taught_by == "ensemble":
        model = None if any(t.model is None for t in teachers) else [t.model for t in teachers]
        logits = [t.logits for t in teachers]
    else:
        model, logits = teachers[0].model, teachers[0].logits
    return fit(student, task, config, distiller=distiller, teacher=model, teacher_logits=logits, seed=seed,
               desc=f"student ({distiller.name})")


def train_cohort(task: Task, models: list[nn.Module | ModelSpec], method: str | Distiller, config: TrainConfig,
                 seed: int = 0, **options) -> list[FitResult]:
    """Train a cohort under a mutual ``method`` (``dml``; its ``options``): ``models`` are modules
    or ``ModelSpec``s; the specs are built here in order after seeding, so the first model starts
    from the weights ``train_student`` would give it with the same ``seed`` (a paired comparison
    with the model trained alone). One ``FitResult`` per model, each at its own best epoch
    (``fit_cohort``)."""
    distiller = methods.get(method, **options) if isinstance(method, str) else method
    if distiller.taught_by != "mutual":
        raise ValueError(f"train_cohort trains mutual methods ({_methods_taught('mutual')}); method "
                         f"{distiller.name!r} is taught by {distiller.taught_by}: use gkd.train_student")
    seed_everything(seed)
    built = [m.build(task) if isinstance(m, ModelSpec) else m for m in models]
    return fit_cohort(built, task, config, distiller=distiller, seed=seed, desc=f"cohort ({distiller.name})")


def _methods_taught(*ways: str) -> str:
    """The registered methods taught in one of ``ways``, for a message."""
    return ", ".join(name for name in methods.available() if methods.registered(name).taught_by in ways)
