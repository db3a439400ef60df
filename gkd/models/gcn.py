"""Graph convolutional network (Kipf & Welling, ICLR 2017), full-batch on CSR."""
from __future__ import annotations

import torch
from torch import Tensor, nn
from torch_geometric.data import Data

from .adjacency import propagate
from .base import LayerStack


class GCNLayer(nn.Module):
    """h' = D^-1/2 (A + I) D^-1/2 h W + b."""

    def __init__(self, in_dim: int, out_dim: int):
        super().__init__()
        self.lin = nn.Linear(in_dim, out_dim, bias=False)
        self.bias = nn.Parameter(torch.zeros(out_dim))

    def forward(self, h: Tensor, data: Data) -> Tensor:
        if self.lin.out_features < self.lin.in_features:
            return propagate(data, self.lin(h), "sym") + self.bias
        return self.lin(propagate(data, h, "sym")) + self.bias


class GCN(LayerStack):
    """GCN: CPF's teacher."""

    def make_layer(self, in_dim: int, out_dim: int, last: bool) -> nn.Module:
        return GCNLayer(in_dim, out_dim)

    def apply_layer(self, layer: nn.Module, h: Tensor, data: Data) -> Tensor:
        return layer(h, data)
