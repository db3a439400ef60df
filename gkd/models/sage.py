"""GraphSAGE (Hamilton et al., NeurIPS 2017) on CSR: the mean aggregator (``sage``), and the
GCN aggregator (``sage-gcn``, DGL's ``SAGEConv(..., "gcn")``: GLNN's and NOSMOG's teacher)."""
from __future__ import annotations

import torch
from torch import Tensor, nn

from .aggregating import AggregatingLayer
from .base import LayerStack
from .sparse_input import SparseInputLinear
from .zoo import register


class SAGELayer(AggregatingLayer):
    """h_i' = W_self h_i + W_neigh mean_{j in N(i)} h_j + b."""

    norm = "mean"

    def __init__(self, in_dim: int, out_dim: int):
        super().__init__()
        # mean aggregation is linear: aggregate on whichever side of the weight is narrower; a layer
        # that maps first reads wide inputs (a first layer over bag-of-words features), which its
        # linear maps multiply in CSR form when they are mostly zero (``SparseInputLinear``)
        self.maps_first = out_dim < in_dim
        linear = SparseInputLinear if self.maps_first else nn.Linear
        self.self_lin = linear(in_dim, out_dim)
        self.neigh_lin = linear(in_dim, out_dim, bias=False)

    def pre(self, h: Tensor) -> Tensor:
        return self.neigh_lin(h) if self.maps_first else h

    def combine(self, h: Tensor, aggregated: Tensor) -> Tensor:
        # the self term is accumulated in place into the neighbour term (a fresh tensor either way:
        # the product's output, or the neighbour map's): no separate pass, no extra buffer
        if torch.is_autocast_enabled(h.device.type):  # in-place products are not autocast: let it cast
            return self.self_lin(h) + (aggregated if self.maps_first else self.neigh_lin(aggregated))
        if self.maps_first:
            return aggregated.add_(self.self_lin(h))
        neigh = torch.nn.functional.linear(aggregated, self.neigh_lin.weight, self.self_lin.bias)
        return neigh.addmm_(h, self.self_lin.weight.t())


@register
class SAGE(LayerStack):
    """GraphSAGE (mean aggregator): GLNN's teacher."""

    name = "sage"
    layer = SAGELayer


class SAGEGCNLayer(AggregatingLayer):
    """h_i' = W mean_{j in N(i) + {i}} h_j + b: one weight over the mean of a node and its
    in-neighbours (DGL's ``SAGEConv`` with ``aggregator_type="gcn"``)."""

    norm = "mean_loops"

    def __init__(self, in_dim: int, out_dim: int):
        super().__init__()
        self.lin = nn.Linear(in_dim, out_dim)
        # the mean is linear: aggregate on whichever side of the weight is narrower
        self.maps_first = out_dim < in_dim

    def pre(self, h: Tensor) -> Tensor:
        return torch.nn.functional.linear(h, self.lin.weight) if self.maps_first else h

    def combine(self, h: Tensor, aggregated: Tensor) -> Tensor:
        return aggregated + self.lin.bias if self.maps_first else self.lin(aggregated)


@register
class SAGEGCN(LayerStack):
    """GraphSAGE with the GCN aggregator, the teacher GLNN's and NOSMOG's code trains (their
    ``models.py``: ``SAGEConv(in, out, "gcn")``)."""

    name = "sage-gcn"
    layer = SAGEGCNLayer
