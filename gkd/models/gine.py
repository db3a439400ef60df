"""GIN with edge features ("GIN-E"): the GIN of Xu et al. (ICLR 2019), with each neighbour's
message shifted by an embedding of the edge, as in Hu et al. (ICLR 2020, "Strategies for
Pre-training Graph Neural Networks") and OGB's molecule baselines (Hu et al., NeurIPS 2020).

Layer update, for node i with in-neighbours j (edges j -> i, ``edge_index[0] -> edge_index[1]``)::

    h_i' = MLP((1 + eps) h_i + sum_j relu(h_j + E(e_ji)))

``eps`` is learnable (starts at 0), the MLP is Linear-BN-ReLU-Linear as in gkd's ``GINLayer``,
and ``E`` is the layer's own edge encoder: for integer-coded edge features (OGB's bond type,
stereo and conjugation) the sum of one embedding per column, sized by the task's
``edge_categorical_sizes``; for float edge features a linear map. The sum runs as one
``index_add_`` over the edges.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn
from torch_geometric.data import Data

from ..data.task import Task
from ..errors import MismatchError
from .base import CategoricalEncoder, LayerStack
from .gin import GINLayer
from .zoo import register


def _edge_features(data: Data) -> Tensor:
    edge_attr = getattr(data, "edge_attr", None)
    if edge_attr is None:
        raise MismatchError(
            "model 'gine' (GIN with edge features) reads each edge's features, but the graph it was given "
            "has no edge_attr; use a task whose graphs carry edge features (e.g. ogbg-molhiv), or 'gin'"
        )
    return edge_attr.unsqueeze(-1) if edge_attr.dim() == 1 else edge_attr


class GINELayer(GINLayer):
    """h_i' = MLP((1 + eps) h_i + sum_{j -> i} relu(h_j + E(e_ji))), eps learnable.

    ``edge_sizes``: values per integer edge-feature column (categorical encoder); otherwise
    ``edge_dim`` float edge features are mapped linearly to ``in_dim``."""

    sparse_product = False  # messages carry edge features: not a sparse product by row blocks

    def __init__(self, in_dim: int, out_dim: int, edge_sizes: list[int] | None = None, edge_dim: int = 0):
        super().__init__(in_dim, out_dim)  # eps and the MLP: GIN's
        if edge_sizes:
            self.edge_encoder: nn.Module = CategoricalEncoder(edge_sizes, in_dim)
            self.categorical = True
        elif edge_dim > 0:
            self.edge_encoder = nn.Linear(edge_dim, in_dim)
            self.categorical = False
        else:
            raise MismatchError("GINELayer needs edge features: give edge_sizes (integer-coded) or edge_dim (float)")

    def aggregate(self, h: Tensor, data: Data) -> Tensor:
        """sum_{j -> i} relu(h_j + E(e_ji)) for every node i (zeros for nodes without in-edges)."""
        edge_attr = _edge_features(data)
        src, dst = data.edge_index[0], data.edge_index[1]
        if edge_attr.size(0) != src.numel():
            raise MismatchError(f"model 'gine': edge_attr has {edge_attr.size(0)} rows for {src.numel()} edges")
        edges = self.edge_encoder(edge_attr.long() if self.categorical else edge_attr.to(h.dtype))
        messages = torch.relu(h.index_select(0, src) + edges)
        return torch.zeros_like(h).index_add_(0, dst, messages)


@register
class GINE(LayerStack):
    """GIN with edge features: G-CRD's and OGB's ogbg-molhiv teacher (5 layers, mean pooling here
    as gkd's other graph models). Needs ``edge_categorical_sizes`` (integer edge features) or
    ``edge_dim`` (float ones); ``gkd.models.build`` takes them from the task."""

    name = "gine"

    def __init__(self, in_dim: int, hidden: int, out_dim: int, num_layers: int = 2, dropout: float = 0.0,
                 norm: str | None = None, level: str = "node", categorical_sizes: list[int] | None = None,
                 edge_categorical_sizes: list[int] | None = None, edge_dim: int = 0):
        if not edge_categorical_sizes and edge_dim <= 0:
            raise MismatchError("model 'gine' (GIN with edge features) needs edge features: pass "
                                "edge_categorical_sizes (integer-coded) or edge_dim (float)")
        # read by make_layer, which LayerStack.__init__ calls
        self._edge_spec = (list(edge_categorical_sizes) if edge_categorical_sizes else None, int(edge_dim))
        super().__init__(in_dim, hidden, out_dim, num_layers=num_layers, dropout=dropout, norm=norm,
                         level=level, categorical_sizes=categorical_sizes)

    @classmethod
    def from_task(cls, task: Task, hidden: int = 128, num_layers: int = 2, dropout: float = 0.0,
                  norm: str | None = None) -> GINE:
        """Sized for ``task``, its edge encoders from the task's edge features (which it must have)."""
        if not task.edge_categorical_sizes and task.num_edge_features == 0:
            raise MismatchError(f"model {cls.name!r} reads edge features, but task {task.name!r} has no edge "
                                f"features (its graphs carry no edge_attr); use 'gin' there")
        return cls(task.num_features, hidden, task.num_classes, num_layers=num_layers, dropout=dropout, norm=norm,
                   level="graph" if task.kind == "graph" else "node", categorical_sizes=task.categorical_sizes,
                   edge_categorical_sizes=task.edge_categorical_sizes, edge_dim=task.num_edge_features)

    def make_layer(self, in_dim: int, out_dim: int, last: bool) -> nn.Module:
        sizes, edge_dim = self._edge_spec
        return GINELayer(in_dim, out_dim, edge_sizes=sizes, edge_dim=edge_dim)
