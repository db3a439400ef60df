"""GraphSAGE with the mean aggregator (Hamilton et al., NeurIPS 2017), full-batch on CSR."""
from __future__ import annotations

from torch import Tensor, nn
from torch_geometric.data import Data

from .adjacency import propagate
from .base import LayerStack


class SAGELayer(nn.Module):
    """h_i' = W_self h_i + W_neigh mean_{j in N(i)} h_j + b."""

    def __init__(self, in_dim: int, out_dim: int):
        super().__init__()
        self.self_lin = nn.Linear(in_dim, out_dim)
        self.neigh_lin = nn.Linear(in_dim, out_dim, bias=False)

    def forward(self, h: Tensor, data: Data) -> Tensor:
        # mean aggregation is linear: aggregate on whichever side of the weight is narrower
        if self.neigh_lin.out_features < self.neigh_lin.in_features:
            neigh = propagate(data, self.neigh_lin(h), "mean")
        else:
            neigh = self.neigh_lin(propagate(data, h, "mean"))
        return self.self_lin(h) + neigh


class SAGE(LayerStack):
    """GraphSAGE (mean aggregator): GLNN's teacher."""

    def make_layer(self, in_dim: int, out_dim: int, last: bool) -> nn.Module:
        return SAGELayer(in_dim, out_dim)

    def apply_layer(self, layer: nn.Module, h: Tensor, data: Data) -> Tensor:
        return layer(h, data)
