"""``Model``, the base of every gkd model (its name, the task kinds it is built for, how it is
sized for a task, and the capabilities the trainer may rely on), and ``LayerStack``, the layer
stack the graph models share: encoder, layers, norm, activation, dropout, optional graph pooling,
and ``Outputs`` with the per-layer representations."""
from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, ClassVar, Literal

import torch
from torch import Tensor, nn
from torch_geometric.data import Data

from ..graph.pooling import mean_pool
from ..outputs import Outputs
from .aggregating import AggregatingLayer

if TYPE_CHECKING:
    from ..data.task import Task

Level = Literal["node", "graph"]


class Model(nn.Module):
    """Base of gkd's models: ``forward(inputs) -> Outputs`` (a graph or graph batch, or a batch of
    images). Registered models (``gkd.models.zoo.register``) set ``name`` and ``kinds`` and give
    ``from_task``; the capabilities below are False unless a model declares them, and a module
    that is not a ``Model`` has none of them (``row_independent``, ``supports_row_blocks``)."""

    name: ClassVar[str] = ""
    """The name ``gkd.models.build`` and ``ModelSpec`` know the model by."""

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if "__init__" in cls.__dict__:
            cls.__init__ = _recording(cls.__dict__["__init__"])

    @property
    def init_arguments(self) -> dict:
        """The arguments the model was constructed with, by name, defaults filled in (its outermost
        ``__init__``'s): what a saved model needs to be built again (``gkd.export``)."""
        return dict(self.__dict__.get("_gkd_init_arguments", {}))

    kinds: ClassVar[tuple[str, ...]] = ()
    """The task kinds (``Task.kind``) the model is built for."""

    reads_node_ids: ClassVar[bool] = False
    """Whether the model looks rows up by node id (``data.n_id``), being bound to one graph's nodes."""

    @property
    def row_independent(self) -> bool:
        """Whether output row i depends on input row i alone (a node-level MLP): the model then runs
        on any subset of nodes by itself, so sampled training gives it batches of nodes without
        their neighbours, ``predict`` runs it in blocks of rows, and faithfulness perturbs each
        node in a ball of its own."""
        return False

    @property
    def supports_row_blocks(self) -> bool:
        """Whether each layer's output can be computed block by block of rows from the layer's input
        (every layer one sparse product): layer-wise inference (``gkd.models.layerwise``) and the
        per-layer trimming of sampled batches rely on it."""
        return False

    @classmethod
    def from_task(cls, task: Task, hidden: int = 128, num_layers: int = 2, dropout: float = 0.0,
                  norm: str | None = None) -> Model:
        """The model sized for ``task`` (input width, classes, level, encoders)."""
        raise NotImplementedError(f"{cls.__name__} does not say how to size itself for a task")


def _recording(init: Callable) -> Callable:
    """``init`` that also keeps its bound arguments on the instance (the outermost constructor of
    a subclass chain writes last, so the instance keeps its own class's arguments)."""
    signature = inspect.signature(init)

    @functools.wraps(init)
    def wrapper(self: nn.Module, *args, **kwargs) -> None:
        init(self, *args, **kwargs)
        bound = signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        arguments = dict(bound.arguments)
        arguments.pop(next(iter(signature.parameters)))  # self
        for name, parameter in signature.parameters.items():
            if parameter.kind == parameter.VAR_KEYWORD:
                arguments.update(arguments.pop(name))
        object.__setattr__(self, "_gkd_init_arguments", arguments)

    return wrapper


def dropout(h: Tensor, p: float, training: bool) -> Tensor:
    """Inverted dropout, as ``torch.nn.functional.dropout``: each entry kept with probability 1 - p
    and scaled by 1 / (1 - p). On a CPU the mask compares uniform numbers with p (torch's CPU
    ``bernoulli_`` draws serially, several times slower on a large input); on other devices it is
    torch's own kernel."""
    if not training or p == 0.0:
        return h
    if h.device.type != "cpu":
        return nn.functional.dropout(h, p, True)
    if p >= 1.0:
        return h * 0.0
    scale = (torch.rand_like(h) >= p).to(h.dtype).mul_(1.0 / (1.0 - p))
    return h * scale


def row_independent(model: nn.Module) -> bool:
    """``model.row_independent`` for a gkd ``Model``; False for any other module."""
    return isinstance(model, Model) and model.row_independent


def supports_row_blocks(model: nn.Module) -> bool:
    """``model.supports_row_blocks`` for a gkd ``Model``; False for any other module."""
    return isinstance(model, Model) and model.supports_row_blocks


def refuse_norm(name: str, norm: str | None) -> None:
    """A model without configurable normalisation layers refuses a ``norm`` it cannot honour."""
    if norm not in (None, "none"):
        raise ValueError(f"model {name!r} has no configurable normalisation (got norm={norm!r}); leave norm unset")


class CategoricalEncoder(nn.Module):
    """Sum of one embedding per integer feature column (OGB's atom encoder, in general form)."""

    def __init__(self, sizes: list[int], dim: int):
        super().__init__()
        self.tables = nn.ModuleList(nn.Embedding(size, dim) for size in sizes)

    def forward(self, x: Tensor) -> Tensor:
        return sum(table(x[:, i]) for i, table in enumerate(self.tables))


def _norm(kind: str | None, dim: int) -> nn.Module:
    if kind in (None, "none"):
        return nn.Identity()
    if kind == "batch":
        return nn.BatchNorm1d(dim)
    if kind == "layer":
        return nn.LayerNorm(dim)
    raise ValueError(f"unknown norm {kind!r}; valid: none, batch, layer")


class LayerStack(Model):
    """Base of gkd's graph models. Subclasses name their layer class in ``layer`` (built as
    ``layer(in, out)`` and called as ``layer(h, data)``, the shape of gkd's aggregating layers) or
    override ``make_layer(in, out, last)`` and ``apply_layer(layer, h, data)``.

    Node level: ``num_layers`` layers, the last one producing the logits. Graph level: every
    layer keeps ``hidden`` units, node representations are mean-pooled per graph and a linear
    head produces the logits. ``Outputs.hidden`` holds each hidden layer's representation after
    norm and activation (before dropout).
    """

    kinds = ("node", "graph")
    layer: ClassVar[type[nn.Module]]

    def __init__(self, in_dim: int, hidden: int, out_dim: int, num_layers: int = 2, dropout: float = 0.0,
                 norm: str | None = None, level: Level = "node", categorical_sizes: list[int] | None = None):
        super().__init__()
        if num_layers < 1:
            raise ValueError("num_layers must be at least 1")
        self.level, self.dropout = level, dropout
        self.encoder = CategoricalEncoder(categorical_sizes, hidden) if categorical_sizes else None
        first = hidden if self.encoder is not None else in_dim
        dims = [first] + [hidden] * num_layers
        if level == "node":
            dims[-1] = out_dim
        self.layers = nn.ModuleList(
            self.make_layer(dims[i], dims[i + 1], last=(level == "node" and i == num_layers - 1))
            for i in range(num_layers)
        )
        hidden_count = num_layers if level == "graph" else num_layers - 1
        self.norms = nn.ModuleList(_norm(norm, hidden) for _ in range(hidden_count))
        self.head = nn.Linear(hidden, out_dim) if level == "graph" else None

    @classmethod
    def from_task(cls, task: Task, hidden: int = 128, num_layers: int = 2, dropout: float = 0.0,
                  norm: str | None = None) -> LayerStack:
        """Sized for ``task``: its input width and classes, node or graph level, and an embedding
        encoder for integer-coded features (``Task.categorical_sizes``). For a link task, the
        node encoder of a ``LinkModel``: its last layer gives ``hidden`` units per node."""
        out = hidden if task.kind == "link" else task.num_classes
        return cls(task.num_features, hidden, out, num_layers=num_layers, dropout=dropout, norm=norm,
                   level="graph" if task.kind == "graph" else "node", categorical_sizes=task.categorical_sizes)

    def make_layer(self, in_dim: int, out_dim: int, last: bool) -> nn.Module:
        return self.layer(in_dim, out_dim)

    def apply_layer(self, layer: nn.Module, h: Tensor, data: Data) -> Tensor:
        return layer(h, data)

    @property
    def supports_row_blocks(self) -> bool:
        """A node-level stack whose layers all aggregate by one sparse product."""
        return self.head is None and all(isinstance(layer, AggregatingLayer) and layer.sparse_product
                                         for layer in self.layers)

    def trimmed_rows(self, data: Data) -> list[int] | None:
        """Rows each layer computes on a trimmed sampled subgraph (None: every row, untrimmed)."""
        hop_sizes = getattr(data, "num_sampled_nodes", None)
        if not getattr(data, "trim_to_layer", False) or hop_sizes is None or not self.supports_row_blocks:
            return None
        depth = len(self.layers)
        return [sum(hop_sizes[:depth - i]) for i in range(depth)]

    def forward(self, data: Data) -> Outputs:
        h = data.x if self.encoder is None else self.encoder(data.x)
        hidden: list[Tensor] = []
        rows = self.trimmed_rows(data)
        for i, layer in enumerate(self.layers):
            h = self.apply_layer(layer, h, data) if rows is None else layer.forward_leading(h, data, rows[i])
            if i < len(self.norms):
                h = torch.relu(self.norms[i](h))
                hidden.append(h)
                h = dropout(h, self.dropout, self.training)
        if self.head is None:
            return Outputs(logits=h, hidden=hidden)
        pooled = mean_pool(hidden[-1], data)
        return Outputs(logits=self.head(pooled), hidden=hidden, pooled=pooled)


@contextmanager
def eval_mode(*models: nn.Module) -> Iterator[None]:
    """Run a block with ``models`` in eval mode, each restored to its own mode afterwards."""
    modes = [m.training for m in models]
    try:
        for m in models:
            m.eval()
        yield
    finally:
        for m, mode in zip(models, modes):
            m.train(mode)
