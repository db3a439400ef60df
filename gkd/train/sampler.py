"""Which neighbour sampler draws a sampled node task's mini-batches: DGL's or gkd's own."""
from __future__ import annotations

from torch import Tensor
from torch_geometric.data import Data

from ..graph.sampling import NeighbourSampler
from ..interop import dgl as dgl_interop

SAMPLER_BACKENDS = ("auto", "gkd", "dgl")


def make_sampler(data: Data, fanouts: list[int], batch_size: int, nodes: Tensor | None = None, seed: int = 0,
                 backend: str = "auto") -> NeighbourSampler:
    """The neighbour sampler for mini-batch training (arguments as ``NeighbourSampler``'s).
    ``backend``: ``"auto"`` takes DGL's sampler (``gkd.interop.dgl.DGLNeighbourSampler``) when
    ``dgl`` imports and gkd's own ``NeighbourSampler`` otherwise; ``"gkd"`` or ``"dgl"`` force one
    (``"dgl"`` without DGL raises ``ImportError`` saying how to install it). Zero hops (seeds
    alone) need no graph sampler: gkd's serves them. DGL is imported here, on demand: ``import
    gkd`` never imports it."""
    if backend not in SAMPLER_BACKENDS:
        raise ValueError(f"sampler backend must be one of {', '.join(map(repr, SAMPLER_BACKENDS))}, got {backend!r}")
    if backend == "gkd" or not fanouts or (backend == "auto" and not dgl_interop.available()):
        return NeighbourSampler(data, fanouts, batch_size, nodes=nodes, seed=seed)
    # its constructor raises the install hint without DGL
    return dgl_interop.DGLNeighbourSampler(data, fanouts, batch_size, nodes=nodes, seed=seed)
