"""Graph convolutional network (Kipf & Welling, ICLR 2017), full-batch on CSR."""
from __future__ import annotations

import torch
from torch import Tensor, nn

from .aggregating import AggregatingLayer
from .base import LayerStack
from .zoo import register


class GCNLayer(AggregatingLayer):
    """h' = D^-1/2 (A + I) D^-1/2 h W + b."""

    norm = "sym"

    def __init__(self, in_dim: int, out_dim: int):
        super().__init__()
        self.lin = nn.Linear(in_dim, out_dim, bias=False)
        self.bias = nn.Parameter(torch.zeros(out_dim))
        self.maps_first = out_dim < in_dim  # the product on the narrower side of W

    def pre(self, h: Tensor) -> Tensor:
        return self.lin(h) if self.maps_first else h

    def combine(self, h: Tensor, aggregated: Tensor) -> Tensor:
        # in place on a fresh tensor (the product's output, or the map's)
        return (aggregated if self.maps_first else self.lin(aggregated)).add_(self.bias)


@register
class GCN(LayerStack):
    """GCN: CPF's teacher."""

    name = "gcn"
    layer = GCNLayer
