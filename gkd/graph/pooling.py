"""Pooling node rows into one row per graph of a (PyG) graph batch."""
from __future__ import annotations

import torch
from torch import Tensor
from torch_geometric.data import Data
from torch_geometric.utils import scatter


def mean_pool(h: Tensor, data: Data) -> Tensor:
    """The mean of ``h``'s node rows per graph of ``data``: ``data.batch`` names each node's graph
    (one graph when ``data`` has no ``batch``), ``data.num_graphs`` the row count when it is set."""
    batch = getattr(data, "batch", None)
    if batch is None:
        batch = torch.zeros(h.size(0), dtype=torch.long, device=h.device)
    num_graphs = int(getattr(data, "num_graphs", int(batch.max()) + 1 if batch.numel() else 1))
    return scatter(h, batch, dim=0, dim_size=num_graphs, reduce="mean")
