"""GraphSAGE with the mean aggregator (Hamilton et al., NeurIPS 2017), full-batch on CSR."""
from __future__ import annotations

from torch import Tensor, nn
from torch_geometric.data import Data

from .aggregating import AggregatingLayer
from .base import LayerStack


class SAGELayer(AggregatingLayer):
    """h_i' = W_self h_i + W_neigh mean_{j in N(i)} h_j + b."""

    norm = "mean"

    def __init__(self, in_dim: int, out_dim: int):
        super().__init__()
        self.self_lin = nn.Linear(in_dim, out_dim)
        self.neigh_lin = nn.Linear(in_dim, out_dim, bias=False)
        # mean aggregation is linear: aggregate on whichever side of the weight is narrower
        self.narrows = out_dim < in_dim

    def pre(self, h: Tensor) -> Tensor:
        return self.neigh_lin(h) if self.narrows else h

    def combine(self, h: Tensor, aggregated: Tensor) -> Tensor:
        return self.self_lin(h) + (aggregated if self.narrows else self.neigh_lin(aggregated))


class SAGE(LayerStack):
    """GraphSAGE (mean aggregator): GLNN's teacher."""

    def make_layer(self, in_dim: int, out_dim: int, last: bool) -> nn.Module:
        return SAGELayer(in_dim, out_dim)

    def apply_layer(self, layer: nn.Module, h: Tensor, data: Data) -> Tensor:
        return layer(h, data)
