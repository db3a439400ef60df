"""The layer stack every built-in model shares: encoder, layers, norm, activation, dropout,
optional graph pooling, and ``Outputs`` with the per-layer representations."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

import torch
from torch import Tensor, nn
from torch_geometric.data import Data
from torch_geometric.utils import scatter

from ..outputs import Outputs
from .aggregating import AggregatingLayer

Level = Literal["node", "graph"]


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


class LayerStack(nn.Module):
    """Base of gkd's models. Subclasses give ``make_layer(in, out, last)`` and
    ``apply_layer(layer, h, data)``.

    Node level: ``num_layers`` layers, the last one producing the logits. Graph level: every
    layer keeps ``hidden`` units, node representations are mean-pooled per graph and a linear
    head produces the logits. ``Outputs.hidden`` holds each hidden layer's representation after
    norm and activation (before dropout).
    """

    uses_graph = True  # False for models that read node features only (MLP)

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

    def make_layer(self, in_dim: int, out_dim: int, last: bool) -> nn.Module:
        raise NotImplementedError

    def apply_layer(self, layer: nn.Module, h: Tensor, data: Data) -> Tensor:
        raise NotImplementedError

    def rowwise(self) -> bool:
        """Whether this is a node-level stack whose layers all aggregate by one sparse product, so
        any block of a layer's rows can be computed alone (layer-wise inference, trimming)."""
        return self.head is None and all(isinstance(layer, AggregatingLayer) and layer.rowwise for layer in self.layers)

    def trimmed_rows(self, data: Data) -> list[int] | None:
        """Rows each layer computes on a trimmed sampled subgraph (None: every row, untrimmed)."""
        hop_sizes = getattr(data, "num_sampled_nodes", None)
        if not getattr(data, "trim_to_layer", False) or hop_sizes is None or not self.rowwise():
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
                h = nn.functional.dropout(h, self.dropout, self.training)
        if self.head is None:
            return Outputs(logits=h, hidden=hidden)
        batch = getattr(data, "batch", None)
        if batch is None:
            batch = torch.zeros(h.size(0), dtype=torch.long, device=h.device)
        num_graphs = int(getattr(data, "num_graphs", int(batch.max()) + 1 if batch.numel() else 1))
        pooled = scatter(hidden[-1], batch, dim=0, dim_size=num_graphs, reduce="mean")
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
