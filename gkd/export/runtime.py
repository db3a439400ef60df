"""gkd models as plain tensor programs: TorchScript and ONNX files, checked by their runtimes.

A gkd model reads a PyG ``Data`` and returns ``Outputs``; neither traces. ``TensorModel`` wraps a
model as ``forward(x[, edge_index][, n_id]) -> logits`` (the inputs ``inputs_of`` names). GNN
layers aggregate with a CSR sparse product, which neither the TorchScript tracer nor ONNX
supports; the wrapper marks its graph ``use_edge_lists``, so the same layers aggregate by gather
and ``scatter_add`` (the same normalised weights, ``normalised_edges``) and export. What exports:
MLP, NOSMOG's MLP (its positional table a constant, looked up by ``n_id``), and the aggregating
GNNs (``sage``, ``sage-gcn``, ``gcn``, ``gin``). What does not: ``gat`` (PyG's ``GATConv``
softmax), ``gine``, ``cpf`` (bound to its training labels and iterated propagation: its export is
not attempted) and image models (not covered here); ``export_*`` refuses them by name.

``to_torchscript`` traces (``torch.jit.trace``) and saves; ``to_onnx`` uses torch's TorchScript-
based ONNX exporter with the node and edge counts as dynamic axes. ``check_torchscript`` and
``check_onnx`` run the file in its own runtime (``torch.jit.load``; ``onnxruntime``, an optional
extra: ``pip install gkd[export]``) and return the largest absolute difference from eager logits.
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from ..errors import UnsupportedModuleError
from ..graph.adjacency import use_edge_lists
from ..models.base import LayerStack, Model
from ..models.link import LinkModel
from .bundle import as_data, inputs_of

EXPORTABLE = ("mlp", "nosmog", "sage", "sage-gcn", "gcn", "gin")


class TensorModel(nn.Module):
    """``model`` as ``forward(*tensors) -> logits``, its tensors those ``inputs_of(model)`` names,
    in that order; graph layers aggregate over edge lists (exportable operators)."""

    def __init__(self, model: Model):
        super().__init__()
        if isinstance(model, LinkModel):
            raise UnsupportedModuleError("a link model exports as its encoder: export model.encoder for the node "
                                         "embeddings, and score pairs of them with a bundle (gkd.save / gkd.load)")
        name = model.name if isinstance(model, Model) else type(model).__name__
        if name not in EXPORTABLE:
            raise UnsupportedModuleError(f"model {name!r} does not export; exportable "
                                         f"models: {', '.join(EXPORTABLE)}")
        if isinstance(model, LayerStack) and (model.level != "node" or model.encoder is not None):
            raise UnsupportedModuleError(f"only node-level models on float features export (model {name!r} is "
                                         f"graph-level or embeds categorical features)")
        self.model = model.eval()
        self.inputs = inputs_of(model)

    def forward(self, x: Tensor, second: Tensor | None = None) -> Tensor:
        named = dict(zip(self.inputs[1:], [second]))
        data = as_data(x, named.get("edge_index"), named.get("n_id"))
        if "edge_index" in named:
            use_edge_lists(data)
        return self.model(data).logits


def example_inputs(model: Model, x: Tensor, edge_index: Tensor | None = None) -> tuple[Tensor, ...]:
    """The tensors the exported ``model`` takes for features ``x`` of a whole graph: ``x``, and
    ``edge_index`` or the node ids ``0..n-1``."""
    needs = inputs_of(model)
    if "edge_index" in needs:
        if edge_index is None:
            raise ValueError(f"model {model.name!r} reads the graph: pass edge_index")
        return (x, edge_index)
    if "n_id" in needs:
        return (x, torch.arange(x.size(0)))
    return (x,)


def to_torchscript(model: Model, path: str | os.PathLike, inputs: tuple[Tensor, ...]) -> Path:
    """Trace ``model`` on ``inputs`` (``example_inputs``) and save it as TorchScript at ``path``."""
    wrapped = TensorModel(model)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)  # the file is checked by its runtime instead
        traced = torch.jit.trace(wrapped, inputs, check_trace=False)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    traced.save(str(path))
    return path


def to_onnx(model: Model, path: str | os.PathLike, inputs: tuple[Tensor, ...]) -> Path:
    """Export ``model`` to ONNX at ``path`` (node and edge counts dynamic), from ``inputs``."""
    wrapped = TensorModel(model)
    names = wrapped.inputs[:len(inputs)]
    axes = {"x": {0: "nodes"}, "logits": {0: "nodes"}, "edge_index": {1: "edges"}, "n_id": {0: "nodes"}}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer and exporter notes; the file is checked by onnxruntime instead
        torch.onnx.export(wrapped, inputs, str(path), input_names=names, output_names=["logits"],
                          dynamic_axes={k: v for k, v in axes.items() if k in names or k == "logits"},
                          dynamo=False, opset_version=17)
    return path


def _onnxruntime():
    try:
        import onnxruntime
    except ImportError as exc:
        raise ImportError("checking ONNX files needs onnxruntime: pip install 'gkd[export]'") from exc
    return onnxruntime


def eager_logits(model: Model, inputs: tuple[Tensor, ...]) -> Tensor:
    """The model's own logits (CSR aggregation) for the exported model's ``inputs``."""
    with torch.no_grad():
        return model.eval()(as_data(*_named(model, inputs))).logits


def _named(model: Model, inputs: tuple[Tensor, ...]) -> tuple:
    named = dict(zip(inputs_of(model), inputs))
    return named["x"], named.get("edge_index"), named.get("n_id")


def check_torchscript(path: str | os.PathLike, model: Model, inputs: tuple[Tensor, ...]) -> float:
    """The largest |logit difference| between the TorchScript file run by ``torch.jit.load`` and
    eager ``model`` on ``inputs``."""
    loaded = torch.jit.load(str(path))
    with torch.no_grad():
        return float((loaded(*inputs) - eager_logits(model, inputs)).abs().max())


def onnx_session(path: str | os.PathLike):
    """An onnxruntime session on the CPU for the file at ``path``."""
    ort = _onnxruntime()
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def run_onnx(session, inputs: tuple[Tensor, ...]) -> np.ndarray:
    feeds = {meta.name: tensor.numpy() for meta, tensor in zip(session.get_inputs(), inputs)}
    return session.run(None, feeds)[0]


def check_onnx(path: str | os.PathLike, model: Model, inputs: tuple[Tensor, ...]) -> float:
    """The largest |logit difference| between the ONNX file run by onnxruntime and eager ``model``."""
    out = run_onnx(onnx_session(path), inputs)
    return float(np.abs(out - eager_logits(model, inputs).numpy()).max())
