"""A trained model saved as a folder that loads without its dataset or gkd's training code.

``save(folder, result, task)`` writes two files:

- ``weights.safetensors``: the model's state dict (safetensors: plain tensors, nothing in the file
  is executed on loading) and the tensors among its constructor arguments (NOSMOG's positional
  table, CPF's training nodes and labels) under ``init.<argument>``;
- ``gkd.json``: the bundle's format version, the model's registered name and constructor
  arguments, what it needs of its input (feature width, classes, whether features were
  row-normalised, the graph's node count for models bound to one graph), the method and its
  options, its scores and best epoch, and the environment it was trained in. A link model is
  saved as its encoder (name and arguments) and, under ``link``, its pair decoder's settings.

The folder is written next to its destination and renamed into place, so a reader sees the old
bundle or the whole new one. ``load(folder)`` builds the model again from ``gkd.json`` and loads
the weights strictly: a bundle of another format version, an unknown model or weights that do not
fit are refused with a message that says which.
"""
from __future__ import annotations

import json
import os
import platform
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import torch
import torch_geometric
from torch import Tensor, nn
from torch_geometric.data import Data

from ..data.task import Task
from ..errors import InvalidDataError, MismatchError, UnsupportedModuleError
from ..models.base import Model, row_independent
from ..models.link import LinkModel
from ..models.zoo import MODELS

FORMAT = 1
META, WEIGHTS = "gkd.json", "weights.safetensors"
_INIT = "init."


def _safetensors():
    try:
        import safetensors.torch as safe
    except ImportError as exc:  # a core dependency; a broken install says how to mend it
        raise ImportError("saving and loading models needs safetensors: pip install safetensors") from exc
    return safe


@dataclass
class SavedModel:
    """A model loaded by ``load``: ``model`` (in eval mode) and what ``gkd.json`` says of it
    (``info``). ``predict(x, edge_index, n_id, pairs)`` gives its logits from plain tensors."""

    model: Model  # a LinkModel for a link task's bundle
    info: dict = field(default_factory=dict)

    @property
    def inputs(self) -> list[str]:
        """The tensors ``predict`` needs: ``x``, plus ``edge_index`` for a model that reads the
        graph, or the nodes' ids ``n_id`` for one bound to its graph's nodes (NOSMOG's)."""
        return list(self.info["inputs"])

    def predict(self, x: Tensor, edge_index: Tensor | None = None, n_id: Tensor | None = None,
                pairs: Tensor | None = None) -> Tensor:
        """The model's logits for features ``x`` (and ``edge_index`` / ``n_id`` where it needs
        them): one row per node, or, for a link model, one logit per pair of ``pairs`` (2 x B,
        rows of ``x``: for an MLP encoder, the pairs' end nodes' features suffice)."""
        missing = [name for name, value in (("edge_index", edge_index), ("n_id", n_id), ("pairs", pairs))
                   if name in self.inputs and value is None]
        if missing:
            raise ValueError(f"model {self.info['model']['name']!r} needs {', '.join(missing)} beside x: "
                             f"pass {', '.join(f'{m}=...' for m in missing)}")
        width = self.info["task"]["num_features"]
        if x.dim() != 2 or x.size(1) != width:
            raise MismatchError(f"the model reads {width} features per row; x has shape {tuple(x.shape)}")
        data = as_data(x, edge_index, n_id)
        if "pairs" in self.inputs:
            inside = pairs.numel() == 0 or (int(pairs.min()) >= 0 and int(pairs.max()) < x.size(0))
            if pairs.dim() != 2 or pairs.size(0) != 2 or not inside:
                raise MismatchError(f"pairs must be 2 x B rows of x (0 to {x.size(0) - 1}); got shape "
                                    f"{tuple(pairs.shape)}")
            data.pairs = pairs
        with torch.no_grad():
            return self.model(data).logits


def as_data(x: Tensor, edge_index: Tensor | None = None, n_id: Tensor | None = None) -> Data:
    """A model's input from plain tensors: node features, the graph (if any), node ids (if any)."""
    data = Data(x=x, num_nodes=x.size(0))
    if edge_index is not None:
        data.edge_index = edge_index
    if n_id is not None:
        data.n_id = n_id
    return data


def inputs_of(model: nn.Module) -> list[str]:
    """What a model reads besides ``x``: the graph (``edge_index``) unless it is row-independent,
    node ids (``n_id``) for a row-independent model bound to one graph's nodes; a link model
    reads what its encoder reads and the node ``pairs`` (2 x B, rows of ``x``) it scores."""
    if isinstance(model, LinkModel):
        return inputs_of(model.encoder) + ["pairs"]
    if not row_independent(model):
        return ["x", "edge_index"]
    return ["x", "n_id"] if isinstance(model, Model) and model.reads_node_ids else ["x"]


def environment() -> dict:
    try:
        gkd_version = metadata.version("gkd")
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        gkd_version = "unknown"
    return {"gkd": gkd_version, "torch": torch.__version__, "torch_geometric": torch_geometric.__version__,
            "python": sys.version.split()[0], "platform": platform.platform()}


def _split_arguments(model: Model) -> tuple[dict, dict[str, Tensor]]:
    """The constructor arguments as JSON values and the tensors among them."""
    plain, tensors = {}, {}
    for name, value in model.init_arguments.items():
        if isinstance(value, Tensor):
            tensors[_INIT + name] = value.detach().cpu().contiguous()
            continue
        try:
            plain[name] = json.loads(json.dumps(value))
        except TypeError as exc:
            raise UnsupportedModuleError(f"model {model.name!r} was built with {name}={type(value).__name__}, "
                                         f"which a bundle cannot hold (tensors and JSON values only)") from exc
    return plain, tensors


def save(folder: str | os.PathLike, result: Any, task: Task, method_options: dict | None = None) -> Path:
    """Save ``result`` (a ``FitResult``, or a bare gkd model) trained on ``task`` as ``folder``
    (replaced whole if it exists). ``method_options``: the options the method ran with, for the
    record. (A ``FitResult`` is read by its fields, not imported: this package knows no trainer.)"""
    if isinstance(result, nn.Module):
        model, distiller, scores, best_epoch = result, None, {}, None
    else:
        model, distiller, scores, best_epoch = result.model, result.distiller, result.scores, result.best_epoch
    encoder = model.encoder if isinstance(model, LinkModel) else model  # a link model: its encoder's arguments
    if not isinstance(encoder, Model) or not encoder.name or encoder.name not in MODELS:
        raise UnsupportedModuleError(f"only gkd's registered models can be saved as a bundle (got "
                                     f"{type(encoder).__name__}); save a module of your own with "
                                     f"torch.save(module.state_dict(), path)")
    plain, tensors = _split_arguments(encoder)
    state = {key: value.detach().cpu().contiguous().clone() for key, value in model.state_dict().items()}
    clash = sorted(set(state) & set(tensors))
    if clash:
        raise UnsupportedModuleError(f"state dict entries {clash} clash with the bundle's constructor tensors")
    info = {
        "format": FORMAT,
        "model": {"name": encoder.name, "class": type(encoder).__qualname__, "arguments": plain,
                  "tensor_arguments": sorted(k[len(_INIT):] for k in tensors)},
        "link": dict(model.link_arguments) if isinstance(model, LinkModel) else None,
        "inputs": inputs_of(model),
        "task": {"name": task.name, "kind": task.kind, "objective": task.objective, "metric": task.metric,
                 "num_features": task.num_features, "num_classes": task.num_classes,
                 "num_nodes": int(task.data.num_nodes) if task.kind == "node" else None,
                 "features": task.info.get("features", "as loaded"), "fingerprint": task.fingerprint()},
        "method": None if distiller is None else distiller.name,
        "method_options": json.loads(json.dumps(method_options or {})),
        "scores": dict(scores),
        "best_epoch": best_epoch,
        "environment": environment(),
    }
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.", suffix=".tmp"))
    try:
        _safetensors().save_file({**state, **tensors}, str(staging / WEIGHTS))
        (staging / META).write_text(json.dumps(info, indent=1, sort_keys=True) + "\n")
        old = None
        if folder.exists():
            old = folder.with_name(f".{folder.name}.{os.getpid()}.old")
            os.replace(folder, old)
        os.replace(staging, folder)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return folder


def read_info(folder: str | os.PathLike) -> dict:
    """``gkd.json`` of a bundle, checked for its format."""
    path = Path(folder) / META
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: {folder} is not a saved gkd model (gkd.export.save writes one)")
    try:
        info = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidDataError(f"{path} is not valid JSON ({exc}); save the model again") from exc
    version = info.get("format") if isinstance(info, dict) else None
    if version != FORMAT:
        raise InvalidDataError(f"{path} is bundle format {version!r}; this gkd reads format {FORMAT}: "
                               f"load it with the gkd that saved it ({info.get('environment', {}).get('gkd', '?')})")
    return info


def load(folder: str | os.PathLike) -> SavedModel:
    """The model saved in ``folder``, built again and in eval mode; no dataset is read."""
    info = read_info(folder)
    name = info["model"]["name"]
    if name not in MODELS:
        raise MismatchError(f"{Path(folder) / META} names model {name!r}, which this gkd does not have; "
                            f"models: {', '.join(MODELS.names())}")
    path = Path(folder) / WEIGHTS
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: save the model again")
    try:
        tensors = _safetensors().load_file(str(path))
    except Exception as exc:  # safetensors raises its own error types for a corrupt file
        raise InvalidDataError(f"{path} cannot be read as safetensors ({exc}); save the model again") from exc
    arguments = dict(info["model"]["arguments"])
    for argument in info["model"]["tensor_arguments"]:
        if _INIT + argument not in tensors:
            raise InvalidDataError(f"{path} lacks the constructor tensor {_INIT + argument}; save the model again")
        arguments[argument] = tensors.pop(_INIT + argument)
    model = MODELS[name](**arguments)
    link = info.get("link")
    if link is not None:  # a link model: the encoder above and its pair decoder
        expected = {"hidden", "decoder", "decoder_layers", "dropout"}
        if not isinstance(link, dict) or set(link) != expected:
            raise InvalidDataError(f"{Path(folder) / META}: entry 'link' must hold {', '.join(sorted(expected))}; "
                                   f"save the model again")
        model = LinkModel(model, **link)
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError as exc:
        reason = " ".join(str(exc).split())
        raise MismatchError(f"{path} does not fit model {name!r} as {META} describes it: {reason}") from exc
    return SavedModel(model.eval(), info)
