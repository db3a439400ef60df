"""The shape shared by gkd's SAGE, GCN and GIN layers: one sparse product between two node-wise maps.

    h' = combine(h, A_norm @ pre(h))

``pre`` and ``combine`` act on each node's row alone; only the product mixes nodes. Written this
way the same layer runs full-batch (``forward``) and block by block of rows (``gkd.layerwise``:
``combine(h[rows], A_norm[rows] @ pre(h))``), with one definition of the layer's arithmetic.
"""
from __future__ import annotations

from torch import Tensor, nn
from torch_geometric.data import Data

from .adjacency import Norm, propagate


class AggregatingLayer(nn.Module):
    """Base of a layer ``h' = combine(h, A_norm @ pre(h))``; subclasses set ``norm`` (the
    adjacency's normalisation: mean, sym or sum) and define ``combine`` (and ``pre`` when a
    node-wise map comes before the product). ``rowwise = False`` marks a subclass whose
    aggregation is not the product (e.g. GIN-E's edge-feature messages): it cannot run by
    row blocks."""

    norm: Norm = "mean"
    rowwise: bool = True

    def pre(self, h: Tensor) -> Tensor:
        """The node-wise map applied before aggregation (identity by default)."""
        return h

    def combine(self, h: Tensor, aggregated: Tensor) -> Tensor:
        """The node's new representation from its own ``h`` and its ``aggregated`` neighbours."""
        raise NotImplementedError

    def aggregate(self, h: Tensor, data: Data) -> Tensor:
        """``A_norm @ pre(h)`` over the whole graph."""
        return propagate(data, self.pre(h), self.norm)

    def forward(self, h: Tensor, data: Data) -> Tensor:
        return self.combine(h, self.aggregate(h, data))
