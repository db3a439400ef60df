"""The shape shared by gkd's SAGE, GCN and GIN layers: one sparse product between two node-wise maps.

    h' = combine(h, A_norm @ pre(h))

``pre`` and ``combine`` act on each node's row alone; only the product mixes nodes. Written this
way the same layer runs full-batch (``forward``) and block by block of rows (``gkd.models.layerwise``:
``combine(h[rows], A_norm[rows] @ pre(h))``), and on the leading rows of a hop-ordered sampled
subgraph (``forward_leading``), with one definition of the layer's arithmetic.
"""
from __future__ import annotations

from torch import Tensor, nn
from torch_geometric.data import Data

from ..graph.adjacency import Norm, adjacency, propagate


def propagated_features(data: Data, norm: Norm) -> Tensor:
    """``A_norm @ data.x``, cached on ``data`` (keyed by the normalisation and by the storage and
    version of ``x`` and ``edge_index``: features or edges changed in place are recomputed)."""
    cache = data.__dict__.setdefault("_gkd_propagated", {})
    x, edges = data.x, data.edge_index
    key = (norm, x.data_ptr(), x._version, tuple(x.shape), x.device, edges.data_ptr(), edges._version, edges.size(1))
    if key not in cache:
        for stale in [k for k in cache if k[0] == norm]:  # one entry per normalisation: an old x's goes
            del cache[stale]
        cache[key] = propagate(data, x, norm)
    return cache[key]


class AggregatingLayer(nn.Module):
    """Base of a layer ``h' = combine(h, A_norm @ pre(h))``; subclasses set ``norm`` (the
    adjacency's normalisation: mean, sym or sum) and define ``combine`` (and ``pre`` when a
    node-wise map comes before the product, saying so in ``maps_first``). ``sparse_product =
    False`` marks a subclass whose aggregation is not the product (e.g. GIN-E's edge-feature
    messages): it cannot run by row blocks."""

    norm: Norm = "mean"
    sparse_product: bool = True  # the aggregation is ``A_norm @ pre(h)``: rows can be computed by blocks
    maps_first: bool = False  # whether ``pre`` changes ``h`` (a layer that maps first sets it True)

    def pre(self, h: Tensor) -> Tensor:
        """The node-wise map applied before aggregation (identity by default)."""
        return h

    def combine(self, h: Tensor, aggregated: Tensor) -> Tensor:
        """The node's new representation from its own ``h`` and its ``aggregated`` neighbours."""
        raise NotImplementedError

    def aggregate(self, h: Tensor, data: Data) -> Tensor:
        """``A_norm @ pre(h)`` over the whole graph. When ``pre`` is the identity and ``h`` is the
        graph's own input features (no gradient), the product depends on the data alone: it is
        computed once and kept on ``data`` (as SIGN precomputes its propagated features), so a
        full-batch first layer pays for its aggregation once per run instead of once per step."""
        if not self.maps_first and h is getattr(data, "x", None) and not h.requires_grad:
            return propagated_features(data, self.norm)
        return propagate(data, self.pre(h), self.norm)

    def forward(self, h: Tensor, data: Data) -> Tensor:
        return self.combine(h, self.aggregate(h, data))

    def forward_leading(self, h: Tensor, data: Data, rows: int) -> Tensor:
        """The layer's output for the first ``rows`` nodes of ``data`` only, from ``h`` (the first
        ``h.size(0)`` nodes' inputs): ``combine(h[:rows], A_norm[:rows, :len(h)] @ pre(h))``,
        the normalisation that of the whole of ``data``. Equal to ``forward(h, data)[:rows]``
        when those rows read no node beyond ``h`` (a hop-ordered sampled subgraph, trimmed)."""
        block = adjacency(data, self.norm).leading(rows, h.size(0))
        return self.combine(h[:rows], block @ self.pre(h))
