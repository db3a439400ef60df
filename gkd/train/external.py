"""Teachers the user already has, used without training: a module with its saved weights
(``teacher_from_model``) or a file of logits (``teacher_from_logits``). Each gives the same
``FitResult`` a trained teacher gives, scored on the task's splits with the task's metric.
Files are read with ``torch.load(..., weights_only=True)`` or ``numpy.load(..., allow_pickle=False)``:
nothing in them runs."""
from __future__ import annotations

import pickle  # for its error type only: files are read with weights_only=True
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from ..data.task import Task
from ..errors import InvalidDataError, MismatchError
from ..metrics.scores import score
from ..models.wrapper import HookedModel
from .config import TrainConfig
from .inference import check_model, predict
from .result import FitResult

LOGIT_KEYS = ("logits",)  # the array of a logits .npz/.pt dict (else its only array besides ids)
ID_KEYS = ("node_ids", "index")  # the item ids a logits file may carry, one per row


def _scored(task: Task, model: nn.Module | None, logits: Tensor) -> FitResult:
    scores = {name: score(task, logits, index) for name, index in task.split.items()}
    return FitResult(model, logits, scores, best_epoch=-1, train_seconds=0.0, history=[],
                     task=task.fingerprint(split=False))


def _read(path: Path) -> object:
    """The content of a ``.pt`` (tensors only) or ``.npz`` / ``.npy`` file (arrays only)."""
    if not path.exists():
        raise FileNotFoundError(f"no file {path}")
    try:
        if path.suffix == ".npy":
            return torch.from_numpy(np.load(path, allow_pickle=False))
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as blob:
                return {k: torch.from_numpy(blob[k]) for k in blob.files}
        return torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, ValueError, RuntimeError, pickle.UnpicklingError) as exc:
        first = (str(exc).splitlines() or [""])[0]
        raise InvalidDataError(f"{path}: cannot be read as tensors without running code ({first}); save a tensor "
                               f"or a dict of tensors with torch.save, or arrays with numpy.savez") from exc


def teacher_from_model(task: Task, model: nn.Module, checkpoint: str | Path | None = None,
                       config: TrainConfig | None = None) -> FitResult:
    """A teacher the user has trained already: ``model`` (a gkd ``Model``: wrap a PyG or torch
    module as ``gkd.models.HookedModel(module, hidden=[...])``, naming the layers methods may
    read; a plain module is refused with that advice), with the weights of ``checkpoint`` (a
    ``state_dict`` saved with ``torch.save``, of the wrapped module or of the wrapper, or a dict
    holding one under ``"state_dict"``; None: the weights the model has). The model is put in
    eval mode, run on every item (``gkd.predict`` with ``config``, default ``TrainConfig()``) and
    scored on each split with the task's metric. Nothing is trained and nothing is cached."""
    config = config or TrainConfig()
    check_model(model.to(config.device), task, "teacher", config.device)
    if checkpoint is not None:
        path = Path(checkpoint)
        state = _read(path)
        if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
            state = state["state_dict"]
        if not isinstance(state, dict):
            raise InvalidDataError(f"{path}: holds a {type(state).__name__}, not a state_dict; save "
                                   f"torch.save(module.state_dict(), path)")
        target = model
        if isinstance(model, HookedModel) and not any(k.startswith("module.") for k in state):
            target = model.module  # the user's own module's state_dict, saved before wrapping
        missing, unexpected = _key_mismatch(target, state)
        if missing or unexpected:
            raise MismatchError(f"{path}: does not fit {type(target).__name__} (missing {missing[:3]}, unexpected "
                                f"{unexpected[:3]}); build the module as it was when saved")
        try:
            target.load_state_dict(state)  # tensors copied onto the model's device
        except RuntimeError as exc:
            first = (str(exc).splitlines() or [""])[-1].strip()
            raise MismatchError(f"{path}: does not fit {type(target).__name__} ({first}); build the module with "
                                f"the sizes it was saved with") from exc
    model.eval()
    logits = predict(model, task, config)
    return _scored(task, model, logits)


def _key_mismatch(module: nn.Module, state: dict) -> tuple[list[str], list[str]]:
    own = set(module.state_dict())
    return sorted(own - set(state)), sorted(set(state) - own)


def teacher_from_logits(task: Task, path: str | Path) -> FitResult:
    """A teacher given as its logits alone: ``path`` is a ``.npz`` (the array ``logits``, or its
    only array; GLNN's ``out.npz``), a ``.npy`` or a ``.pt`` (a tensor, or a dict with
    ``logits``) of shape ``[task.num_items, task.num_classes]``, row i for item i of the task.
    A file that also holds the items' ids (``node_ids`` or ``index``) is checked against the
    task's order (row i must be item i); a file without ids is trusted to be in the task's order:
    no rule tells a reordered file from a poor teacher soundly, so none is guessed (its scores,
    in the result, show a teacher near chance on its own training split).
    The result's ``model`` is None: methods that read the teacher's logits (``kd``, ``glnn``, ...)
    take it, those that need its hidden layers or run it are refused by name."""
    path = Path(path)
    blob = _read(path)
    ids = None
    if isinstance(blob, dict):
        arrays = {k: v for k, v in blob.items() if isinstance(v, Tensor)}
        ids = next((arrays[k] for k in ID_KEYS if k in arrays), None)
        key = next((k for k in LOGIT_KEYS if k in arrays), None)
        rest = [k for k in arrays if k not in ID_KEYS]
        if key is None and len(rest) == 1:
            key = rest[0]
        if key is None:
            raise InvalidDataError(f"{path}: holds arrays {sorted(arrays)} and none is named 'logits'; save the "
                                   f"logits under the key 'logits'")
        logits = arrays[key]
    elif isinstance(blob, Tensor):
        logits = blob
    else:
        raise InvalidDataError(f"{path}: holds a {type(blob).__name__}, not a tensor of logits; save one tensor")
    wanted = (task.num_items, task.num_classes)
    if tuple(logits.shape) != wanted:
        raise MismatchError(f"{path}: logits of shape {list(logits.shape)}, task {task.name!r} wants {list(wanted)} "
                            f"(items x classes); save one row per item of the task, in its order")
    if not logits.is_floating_point():
        raise InvalidDataError(f"{path}: logits of dtype {logits.dtype}; save floating-point scores")
    if ids is not None:
        _check_order(path, ids, task.num_items)
    logits = logits.float()
    if not torch.isfinite(logits).all():
        row = int((~torch.isfinite(logits)).any(dim=1).nonzero()[0])
        raise InvalidDataError(f"{path}: row {row} of the logits is not finite; save finite scores")
    return _scored(task, None, logits)


def _check_order(path: Path, ids: Tensor, num_items: int) -> None:
    """Refuse ids that do not say row i is item i, naming the first position that disagrees."""
    ids = ids.reshape(-1).long()
    if ids.numel() != num_items:
        raise MismatchError(f"{path}: {ids.numel()} ids for {num_items} rows; give one id per row")
    wrong = (ids != torch.arange(num_items)).nonzero()
    if wrong.numel():
        i = int(wrong[0])
        raise MismatchError(f"{path}: row {i} holds item {int(ids[i])}, the task's item {i} belongs there; save the "
                            f"rows in the task's order (logits[ids.argsort()] reorders them)")
