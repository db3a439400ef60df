"""Multi-layer perceptron: the graph-free student of GLNN-style distillation."""
from __future__ import annotations

from torch import Tensor, nn
from torch_geometric.data import Data

from .base import LayerStack
from .sparse_input import SparseInputLinear
from .zoo import register


@register
class MLP(LayerStack):
    """A node-wise MLP (reads ``data.x`` only; at graph level, pools its node representations).
    Needs no graph at inference, which is why a distilled MLP is so much faster than a GNN."""

    name = "mlp"

    @property
    def row_independent(self) -> bool:
        """At node level each row is its node's features alone (at graph level rows are pooled)."""
        return self.head is None

    def make_layer(self, in_dim: int, out_dim: int, last: bool) -> nn.Module:
        # an nn.Linear that reads repeated mostly-zero inputs (bag-of-words features) as CSR; a
        # hidden layer's inputs are new tensors each pass, so it behaves as nn.Linear there
        return SparseInputLinear(in_dim, out_dim)

    def apply_layer(self, layer: nn.Module, h: Tensor, data: Data) -> Tensor:
        return layer(h)
