"""Graph attention network (Velickovic et al., ICLR 2018) on PyG's GATConv (a per-edge path:
attention weights are per edge, so there is no fixed sparse matrix to multiply by)."""
from __future__ import annotations

from torch import Tensor, nn
from torch_geometric.data import Data
from torch_geometric.nn import GATConv

from .base import LayerStack
from .zoo import register


@register
class GAT(LayerStack):
    """GAT with ``heads`` attention heads on hidden layers (concatenated) and one on the last."""

    name = "gat"
    heads = 4

    def make_layer(self, in_dim: int, out_dim: int, last: bool) -> nn.Module:
        if last or out_dim % self.heads:
            return GATConv(in_dim, out_dim, heads=1)
        return GATConv(in_dim, out_dim // self.heads, heads=self.heads)

    def apply_layer(self, layer: nn.Module, h: Tensor, data: Data) -> Tensor:
        return layer(h, data.edge_index)
