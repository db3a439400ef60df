"""The on-disk teacher cache: a trained teacher's weights, logits and scores, keyed by a hash of
everything they depend on, so every method of a benchmark reuses one teacher per seed."""
from __future__ import annotations

import hashlib
import json
import warnings
from dataclasses import asdict
from pathlib import Path

from ..data.task import Task
from ..io import cache_dir, read_cache, write_cache
from ..metrics.scores import score
from ..models.spec import ModelSpec
from .config import TrainConfig
from .result import FitResult

CACHE_VERSION = 1


def teacher_key(task: Task, spec: ModelSpec, config: TrainConfig, seed: int) -> str:
    """Hash of everything a teacher's outputs depend on: model, optimisation, data, node order,
    split and seed."""
    # fields that do not change what is learnt stay out (so do fields at a value that changes nothing:
    # the sampler of a full-batch run), which keeps earlier caches valid as TrainConfig grows
    unused = (("progress", "device", "layerwise") + (("sampler", "trim") if config.fanouts is None else ())
              + (("precision",) if config.precision == "fp32" else ())
              + (("selection",) if config.selection == "best" else ()))
    payload = {
        "version": CACHE_VERSION, "spec": _spec_fields(spec), "seed": seed, "task": task.fingerprint(),
        "config": {k: v for k, v in asdict(config).items() if k not in unused},
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:20]


def _spec_fields(spec: ModelSpec) -> dict:
    """The spec's fields, those at their default that came after the cache began left out."""
    fields = asdict(spec)
    if fields["init"] == "default":
        del fields["init"]
    if not fields["options"]:
        del fields["options"]
    return fields


def teacher_path(task: Task, spec: ModelSpec, config: TrainConfig, seed: int) -> Path:
    """Where the teacher of (task, spec, config, seed) is cached."""
    key = teacher_key(task, spec, config, seed)
    return cache_dir("teachers") / f"{task.name}-{spec.label()}-s{seed}-{key}.pt"


def save_teacher(result: FitResult, path: Path) -> None:
    """Write a trained teacher's weights, logits, scores and history to ``path`` (atomically; tensors,
    numbers and strings only). A cache that cannot be written is skipped with a warning."""
    write_cache({
        "state_dict": result.model.state_dict(), "logits": result.logits, "scores": result.scores,
        "best_epoch": result.best_epoch, "train_seconds": result.train_seconds, "history": result.history,
    }, path)


def load_teacher(path: Path, task: Task, spec: ModelSpec) -> FitResult | None:
    """The cached teacher at ``path`` for ``task``, or None (with a warning) when the file cannot
    be read (it is loaded with ``weights_only=True``: nothing in it runs) or no longer fits the
    data: its stored validation score is recomputed from its stored logits against the current
    labels."""
    blob = read_cache(path)
    if blob is None:
        return None
    try:
        model = spec.build(task)
        model.load_state_dict(blob["state_dict"])
        valid = score(task, blob["logits"], task.split["valid"])
    except Exception as exc:  # a stale or foreign file is retrained, never trusted
        warnings.warn(f"ignoring teacher cache {path} that does not fit {spec.label()} on {task.name}: {exc}")
        return None
    if abs(valid - blob["scores"]["valid"]) > 1e-6:
        warnings.warn(f"teacher cache {path} does not match the data (valid {valid:.4f} vs "
                      f"{blob['scores']['valid']:.4f}); retraining")
        return None
    return FitResult(model.eval(), blob["logits"], blob["scores"], blob["best_epoch"],
                     blob["train_seconds"], blob["history"], from_cache=True, task=task.fingerprint(split=False))
