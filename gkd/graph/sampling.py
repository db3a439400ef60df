"""Neighbour sampling for mini-batch GNN training on large graphs (GraphSAGE-style), gkd's own:
PyPI has no pyg-lib and torch-sparse only as source, so PyG's NeighborLoader is unavailable.

Vectorised in torch on a CSR adjacency of in-neighbours (messages flow ``edge_index[0] ->
edge_index[1]``, so a node aggregates over the sources of its in-edges). Sampling is uniform and
without replacement: a node keeps all of its in-neighbours when it has at most ``fanout`` of them,
otherwise ``fanout`` distinct ones. Deterministic under a ``torch.Generator``.

Cost: a node with more in-neighbours than the fan-out draws fan-out offsets into its CSR slice
(Floyd's algorithm, no sort), one that has no more keeps them all; a hop costs O(frontier x
fan-out) draws plus the kept edges, and a batch a few flags per graph node, never O(E).

DGL's sampler (``gkd.interop.dgl.DGLNeighbourSampler``) is a subclass that draws each hop with
DGL; ``gkd.train.sampler.make_sampler`` picks one of the two. Both yield the same kind of batches,
in the same seed order.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import NamedTuple

import torch
from torch import Tensor
from torch_geometric.data import Data

from .walks import csr


def in_neighbour_csr(edge_index: Tensor, num_nodes: int) -> tuple[Tensor, Tensor]:
    """(rowptr, col): the in-neighbours of node i are ``col[rowptr[i]:rowptr[i + 1]]``."""
    return csr(edge_index.flip(0), num_nodes)


def _all_in_segments(starts: Tensor, lengths: Tensor) -> Tensor:
    """Every position of the segments ``[starts[i], starts[i] + lengths[i])``, segment by segment."""
    total = int(lengths.sum())
    offsets = torch.arange(total) - torch.repeat_interleave(torch.cumsum(lengths, 0) - lengths, lengths)
    return torch.repeat_interleave(starts, lengths) + offsets


def distinct_offsets(degree: Tensor, k: int, generator: torch.Generator | None = None) -> Tensor:
    """(m, k) offsets, row i a uniformly random k-subset of ``[0, degree[i])`` (every degree above
    k). Robert Floyd's algorithm, all rows at once: at step j an offset t is drawn from
    ``[0, degree - k + j]`` and, when an earlier step took it, ``degree - k + j`` (new at this step)
    is taken instead; every k-subset comes out equally likely. k draws and k^2 / 2 comparisons a
    row: no sort."""
    m = degree.numel()
    chosen = torch.empty(m, k, dtype=torch.long)
    for j in range(k):
        top = degree - k + j
        t = (torch.rand(m, generator=generator, dtype=torch.float64) * (top + 1)).long().minimum(top)
        if j:
            t = torch.where((chosen[:, :j] == t.unsqueeze(1)).any(dim=1), top, t)
        chosen[:, j] = t
    return chosen


def sample_neighbours(rowptr: Tensor, col: Tensor, nodes: Tensor, fanout: int,
                      generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """Up to ``fanout`` distinct in-neighbours of each of ``nodes`` (all of them when ``fanout``
    < 0 or the node has no more), drawn uniformly without replacement (``distinct_offsets``).
    Returns ``(sources, targets)``: ``sources[i]`` is a sampled in-neighbour of ``targets[i]``;
    the nodes that keep every in-neighbour come first."""
    start = rowptr[nodes]
    degree = rowptr[nodes + 1] - start
    keep_all = degree <= fanout if fanout >= 0 else torch.ones_like(degree, dtype=torch.bool)
    whole = _all_in_segments(start[keep_all], degree[keep_all])
    sources, targets = [col[whole]], [torch.repeat_interleave(nodes[keep_all], degree[keep_all])]
    if fanout > 0 and not bool(keep_all.all()):
        some = ~keep_all
        offsets = distinct_offsets(degree[some], fanout, generator)
        sources.append(col[(start[some].unsqueeze(1) + offsets).view(-1)])
        targets.append(nodes[some].repeat_interleave(fanout))
    return torch.cat(sources), torch.cat(targets)


HopSampler = Callable[[Tensor, int], tuple[Tensor, Tensor]]
"""``sample_hop(nodes, fanout) -> (sources, targets)``: up to ``fanout`` in-neighbours of each of
``nodes`` (all when ``fanout`` is -1), ``sources[i]`` a sampled in-neighbour of ``targets[i]``."""


class Sampled(NamedTuple):
    """A sampled subgraph: ``node_ids`` (the seeds first, in order, then the nodes first reached
    at hop 1, hop 2, ...), ``edge_index`` (the union of the sampled edges, relabelled to positions
    in ``node_ids``) and ``hop_sizes`` (how many nodes were first reached at each hop, the
    seeds' count first: PyG's ``num_sampled_nodes``)."""

    node_ids: Tensor
    edge_index: Tensor
    hop_sizes: list[int]


def expand_hops(num_nodes: int, seeds: Tensor, fanouts: list[int], sample_hop: HopSampler) -> Sampled:
    """Grow the subgraph of ``seeds`` hop by hop with ``sample_hop``: hop l samples ``fanouts[l]``
    in-neighbours of the nodes first reached at hop l - 1 (the seeds at hop 0). Every sampled
    edge points into a node of hop < len(fanouts) from a node at most one hop further. The nodes
    new at a hop are marked in a flag per node and read off in id order (no sort)."""
    local = torch.full((num_nodes,), -1, dtype=torch.long)
    node_ids = seeds
    local[node_ids] = torch.arange(node_ids.numel())
    if int((local >= 0).sum()) != seeds.numel():
        raise ValueError("sample_subgraph: seeds must be distinct")
    frontier, sources, targets = seeds, [seeds.new_empty(0)], [seeds.new_empty(0)]
    hop_sizes = [seeds.numel()]
    fresh = torch.zeros(num_nodes, dtype=torch.bool)
    for fanout in fanouts:
        src, dst = sample_hop(frontier, fanout)
        sources.append(src)
        targets.append(dst)
        unseen = src[local[src] < 0]
        fresh[unseen] = True
        new = fresh.nonzero().view(-1)
        fresh[new] = False
        local[new] = torch.arange(node_ids.numel(), node_ids.numel() + new.numel())
        node_ids = torch.cat([node_ids, new])
        hop_sizes.append(new.numel())
        frontier = new
    src, dst = torch.cat(sources), torch.cat(targets)
    return Sampled(node_ids, torch.stack([local[src], local[dst]]), hop_sizes)


def sample_subgraph(rowptr: Tensor, col: Tensor, seeds: Tensor, fanouts: list[int],
                    generator: torch.Generator | None = None) -> Sampled:
    """The subgraph a ``len(fanouts)``-layer GNN needs for ``seeds``, sampled on the CSR of
    in-neighbours ``(rowptr, col)`` (see ``expand_hops`` for the hops and the return value)."""
    return expand_hops(rowptr.numel() - 1, seeds, fanouts,
                       lambda nodes, fanout: sample_neighbours(rowptr, col, nodes, fanout, generator))


def check_sampling(fanouts: list[int], batch_size: int) -> None:
    """Raise ``ValueError`` unless ``fanouts`` holds one positive count (or -1: all) per layer and
    ``batch_size`` is positive: the rules every neighbour sampler of gkd shares. No fanouts at
    all (zero hops) gives batches of the seed nodes alone, for models that read no neighbours."""
    if any(f == 0 or f < -1 for f in fanouts):
        raise ValueError(f"fanouts: one positive count (or -1 for all) per layer, got {fanouts}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")


class NeighbourSampler:
    """Mini-batches of a node task's graph for GNN training: ``for batch in sampler:`` yields a
    ``Data`` subgraph with ``x``, ``y``, ``edge_index``, ``n_id`` (the full-graph id of each of its
    nodes, ordered by hop), ``num_sampled_nodes`` (nodes per hop) and ``batch_size`` (its first
    ``batch_size`` nodes are the seeds whose outputs count).
    Seeds are ``nodes`` (default: all) in shuffled batches of ``batch_size``; ``fanouts[l]``
    in-neighbours are kept per node at hop l (-1: all). Seeded: the same ``seed`` and epoch give
    the same batches. Subclasses change how a batch is sampled (``_index`` and ``subgraph``),
    never the seed batches: those are drawn here, from the epoch's ``torch.Generator``."""

    def __init__(self, data: Data, fanouts: list[int], batch_size: int, nodes: Tensor | None = None,
                 shuffle: bool = True, seed: int = 0) -> None:
        check_sampling(fanouts, batch_size)
        self.data, self.fanouts, self.batch_size = data, list(fanouts), batch_size
        self.nodes = torch.arange(data.num_nodes) if nodes is None else nodes
        self.shuffle, self.seed, self.epoch = shuffle, seed, 0
        self._index()

    def _index(self) -> None:
        """Build what ``subgraph`` samples from, once: the CSR of in-neighbours."""
        self.rowptr, self.col = in_neighbour_csr(self.data.edge_index, self.data.num_nodes)

    def __len__(self) -> int:
        return (self.nodes.numel() + self.batch_size - 1) // self.batch_size

    def __iter__(self) -> Iterator[Data]:
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        self.epoch += 1
        order = self.nodes[torch.randperm(self.nodes.numel(), generator=generator)] if self.shuffle else self.nodes
        for seeds in order.split(self.batch_size):
            yield self.subgraph(seeds, generator)

    def subgraph(self, seeds: Tensor, generator: torch.Generator | None = None) -> Data:
        """The sampled subgraph of ``seeds`` as a ``Data`` (see the class docstring)."""
        return self._batch(sample_subgraph(self.rowptr, self.col, seeds, self.fanouts, generator))

    def _batch(self, sampled: Sampled) -> Data:
        """The ``Data`` of a sampled subgraph: features (and labels) of its nodes, its edges."""
        node_ids = sampled.node_ids
        batch = Data(x=self.data.x[node_ids], edge_index=sampled.edge_index, n_id=node_ids,
                     num_sampled_nodes=sampled.hop_sizes, batch_size=sampled.hop_sizes[0])
        if getattr(self.data, "y", None) is not None:
            batch.y = self.data.y[node_ids]
        return batch
