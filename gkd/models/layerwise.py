"""Layer-wise full-graph inference: every node's output, one layer at a time, in blocks of rows.

A plain full-graph forward keeps every layer's activations (``Outputs.hidden``) and the
temporaries of each product at once. Here layer l is computed for all nodes before layer l + 1
starts, ``block_rows`` target rows at a time: ``combine(h[rows], A_norm[rows] @ pre(h))``
(see ``gkd.models.aggregating``). Memory: the layer's input ``h`` and output (N x width each),
``pre(h)`` when the layer maps nodes before aggregating, and one block's temporaries; the
adjacency's transpose is never built. This is how a teacher trained by neighbour sampling
produces its soft labels and validation scores on a graph too large for a full-graph forward.

Works for gkd's node-level models whose layers aggregate by one sparse product (``sage``,
``gcn``, ``gin``); others raise ``UnsupportedModuleError`` naming them.
"""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn
from torch_geometric.data import Data

from ..errors import UnsupportedModuleError
from ..graph.adjacency import adjacency, spmm
from ..outputs import Outputs
from .base import LayerStack


def _by_blocks(n: int, block_rows: int, fn: Callable[[int, int], Tensor]) -> Tensor:
    """The (n, width) tensor whose rows ``start:end`` are ``fn(start, end)``, block by block."""
    out: Tensor | None = None
    for start in range(0, n, block_rows):
        end = min(start + block_rows, n)
        part = fn(start, end)
        if out is None:
            out = part.new_empty(n, part.size(1))
        out[start:end] = part
    return out if out is not None else fn(0, 0)


@torch.no_grad()
def layerwise_forward(model: nn.Module, data: Data, block_rows: int = 65_536, keep_hidden: bool = False) -> Outputs:
    """``model``'s outputs for every node of ``data`` (in eval mode), computed layer by layer in
    blocks of ``block_rows`` rows; equal to ``model(data)`` up to float rounding. ``hidden``
    holds the hidden layers only with ``keep_hidden`` (N x width each)."""
    if not (isinstance(model, LayerStack) and model.supports_row_blocks):
        raise UnsupportedModuleError(
            f"layer-wise inference runs gkd's node-level sage, gcn and gin models (layers that aggregate by one "
            f"sparse product); got {type(model).__name__}. Use gkd.predict for a full-graph forward instead")
    if block_rows < 1:
        raise ValueError(f"block_rows must be positive, got {block_rows}")
    was_training = model.training
    model.eval()
    n = int(data.num_nodes)
    h = data.x if model.encoder is None else _by_blocks(n, block_rows, lambda a, b: model.encoder(data.x[a:b]))
    hidden: list[Tensor] = []
    for i, layer in enumerate(model.layers):
        adj = adjacency(data, layer.norm)
        pre = _by_blocks(n, block_rows, lambda a, b: layer.pre(h[a:b])) if layer.maps_first else h

        def rows(a: int, b: int) -> Tensor:
            part = layer.combine(h[a:b], spmm(adj.rows(a, b), pre))
            return torch.relu(model.norms[i](part)) if i < len(model.norms) else part

        h = _by_blocks(n, block_rows, rows)
        pre = None  # the mapped input is freed before the next layer
        if keep_hidden and i < len(model.norms):
            hidden.append(h)
    model.train(was_training)
    return Outputs(logits=h, hidden=hidden)
