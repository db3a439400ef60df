"""Graph isomorphism network (Xu et al., ICLR 2019), sum aggregation on CSR."""
from __future__ import annotations

import torch
from torch import Tensor, nn

from .aggregating import AggregatingLayer
from .base import LayerStack
from .zoo import register


class GINLayer(AggregatingLayer):
    """h' = MLP((1 + eps) h + sum_{j in N(i)} h_j), eps learnable, MLP = Linear-BN-ReLU-Linear."""

    norm = "sum"

    def __init__(self, in_dim: int, out_dim: int):
        super().__init__()
        self.eps = nn.Parameter(torch.zeros(1))
        self.mlp = nn.Sequential(
            nn.Linear(in_dim, out_dim), nn.BatchNorm1d(out_dim), nn.ReLU(), nn.Linear(out_dim, out_dim)
        )

    def combine(self, h: Tensor, aggregated: Tensor) -> Tensor:
        return self.mlp(torch.addcmul(aggregated, h, 1 + self.eps))


@register
class GIN(LayerStack):
    """GIN: the graph-level teacher (with mean pooling)."""

    name = "gin"
    layer = GINLayer
