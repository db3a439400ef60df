"""Embedded synthetic tasks: no file, deterministic in their seed.

- ``csbm``: a contextual stochastic block model node task. Each node has a class; its features
  are a class centroid scaled by ``signal`` plus standard Gaussian noise; each edge joins a
  source node to a node of the same class with probability ``homophily`` and to a uniformly
  random node otherwise. Node activity follows a heavy-tailed (Pareto) weight, so degrees are
  skewed like a citation graph's. Features alone give an MLP a partial answer; the graph gives
  a GNN the rest, which is the gap distillation has to close.
- ``graph_classes``: a graph-classification task whose class is how nodes of two types connect
  (assortative, neutral, disassortative) at equal average degree. Pooled node features carry only
  a weak hint of the class; message passing sees it.
"""
from __future__ import annotations

import math
from pathlib import Path

import torch
from torch import Tensor
from torch_geometric.data import Data
from torch_geometric.utils import coalesce, to_undirected

from .catalog import register
from .splits import random_split
from .task import Task

# name -> keyword arguments of csbm(); "synthetic-arxiv" has ogbn-arxiv's shape, "synthetic-products"
# ogbn-products' (2,449,029 nodes, 61,859,140 undirected edges, 100 features, 47 classes, its 8 /
# 1.6 / 90.4 % split; generating it takes minutes and several GB)
NODE_PRESETS: dict[str, dict] = {
    "synthetic": dict(num_nodes=2_000, num_edges=10_000, num_features=32, num_classes=6, signal=0.6, homophily=0.7),
    "synthetic-arxiv": dict(
        num_nodes=169_343, num_edges=1_166_243, num_features=128, num_classes=40, signal=1.0,
        split=(0.54, 0.18, 0.28),
    ),
    "synthetic-products": dict(
        num_nodes=2_449_029, num_edges=61_859_140, num_features=100, num_classes=47, signal=1.0,
        split=(0.08, 0.016, 0.904),
    ),
}


def csbm(
    num_nodes: int,
    num_edges: int,
    num_features: int,
    num_classes: int,
    homophily: float = 0.8,
    signal: float = 1.0,
    seed: int = 0,
    split: tuple[float, float, float] = (0.6, 0.2, 0.2),
    name: str = "csbm",
) -> Task:
    """A CSBM node task with ``num_edges`` distinct undirected edges (stored in both directions,
    so ``edge_index`` has ``2 * num_edges`` columns)."""
    gen = torch.Generator().manual_seed(seed)
    y = torch.randint(num_classes, (num_nodes,), generator=gen)
    centroids = torch.randn(num_classes, num_features, generator=gen)
    centroids = centroids / centroids.norm(dim=1, keepdim=True) * math.sqrt(num_features)
    x = signal * centroids[y] / math.sqrt(num_features) * 2.0 + torch.randn(num_nodes, num_features, generator=gen)
    activity = (1.0 - torch.rand(num_nodes, generator=gen)).pow(-1.0 / 2.5)  # Pareto(2.5) weights
    edges = torch.empty(2, 0, dtype=torch.long)
    while edges.size(1) // 2 < num_edges:
        need = num_edges - edges.size(1) // 2
        fresh = _sample_edges(y, activity, int(need * 1.05) + 16, homophily, num_classes, gen)
        edges = to_undirected(torch.cat([edges, fresh], dim=1), num_nodes=num_nodes)
    keep = edges[0] < edges[1]
    upper = edges[:, keep][:, : num_edges]
    edge_index = to_undirected(upper, num_nodes=num_nodes)
    graph = Data(x=x, edge_index=edge_index, y=y, num_nodes=num_nodes)
    return Task(
        name=name, kind="node", data=graph, split=random_split(num_nodes, split, seed),
        num_classes=num_classes,
        info={"generator": "csbm", "seed": seed, "homophily": homophily, "signal": signal},
    )


def _sample_edges(y: Tensor, activity: Tensor, count: int, homophily: float, num_classes: int,
                  gen: torch.Generator) -> Tensor:
    src = torch.multinomial(activity, count, replacement=True, generator=gen)
    dst = torch.multinomial(activity, count, replacement=True, generator=gen)
    # same-class targets: draw by activity inside the source's class
    order = torch.argsort(y, stable=True)
    counts = torch.bincount(y, minlength=num_classes)
    starts = torch.cumsum(counts, 0) - counts
    within = (torch.rand(count, generator=gen) < homophily) & (counts[y[src]] > 0)
    cls = y[src[within]]
    offset = (torch.rand(cls.numel(), generator=gen) * counts[cls]).long().clamp(max=counts[cls] - 1)
    dst[within] = order[starts[cls] + offset]
    pairs = torch.stack([src, dst])
    pairs = pairs[:, pairs[0] != pairs[1]]
    return coalesce(pairs)


def graph_classes(num_graphs: int = 600, num_features: int = 4, seed: int = 0,
                  min_nodes: int = 12, max_nodes: int = 28, hint: float = 0.3,
                  name: str = "synthetic-graphs") -> Task:
    """Three classes of two-type graphs: edges prefer same-type pairs (class 0), ignore types
    (class 1) or prefer cross-type pairs (class 2), all at mean degree about 4."""
    gen = torch.Generator().manual_seed(seed)
    mixing = torch.tensor([0.85, 0.5, 0.15])  # share of edges joining same-type nodes
    graphs = []
    for _ in range(num_graphs):
        label = int(torch.randint(3, (1,), generator=gen))
        n = int(torch.randint(min_nodes, max_nodes + 1, (1,), generator=gen))
        kind = torch.randint(2, (n,), generator=gen)
        m = 2 * n
        src = torch.randint(n, (m * 3,), generator=gen)
        dst = torch.randint(n, (m * 3,), generator=gen)
        same = kind[src] == kind[dst]
        want_same = torch.rand(m * 3, generator=gen) < mixing[label]
        ok = (same == want_same) & (src != dst)
        pairs = coalesce(torch.stack([src[ok], dst[ok]])[:, :m], num_nodes=n)
        edge_index = to_undirected(pairs, num_nodes=n)
        x = torch.randn(n, num_features, generator=gen)
        x[:, 0] = kind.float() * 2 - 1
        x[:, 1] += hint * (label - 1)
        graphs.append(Data(x=x, edge_index=edge_index, y=torch.tensor([label]), num_nodes=n))
    return Task(
        name=name, kind="graph", data=graphs, split=random_split(num_graphs, (0.6, 0.2, 0.2), seed),
        num_classes=3, info={"generator": "graph_classes", "seed": seed},
    )


@register(*NODE_PRESETS, kind="node", splits=("random",))
def load_synthetic_nodes(name: str, root: Path | None = None, seed: int = 0, download: bool = False) -> Task:
    """The CSBM node task preset ``name`` (``NODE_PRESETS``), drawn from ``seed``; no file."""
    return csbm(**NODE_PRESETS[name], seed=seed, name=name)


@register("synthetic-graphs", kind="graph", splits=("random",))
def load_synthetic_graphs(name: str = "synthetic-graphs", root: Path | None = None, seed: int = 0,
                          download: bool = False) -> Task:
    """The embedded graph-classification task, drawn from ``seed``; no file."""
    return graph_classes(seed=seed, name=name)
