"""Node pairs as integer keys: which pairs are edges, and sampling pairs that are not."""
from __future__ import annotations

import torch
from torch import Tensor


def edge_keys(edge_index: Tensor, num_nodes: int) -> Tensor:
    """Each pair as one integer, the smaller node first (an undirected pair's key), sorted."""
    low, high = edge_index.min(dim=0).values, edge_index.max(dim=0).values
    return (low * num_nodes + high).unique()


def contains(keys: Tensor, pairs: Tensor, num_nodes: int) -> Tensor:
    """Whether each pair (either direction) is among ``keys`` (sorted ``edge_keys``)."""
    if keys.numel() == 0 or pairs.size(1) == 0:
        return torch.zeros(pairs.size(1), dtype=torch.bool)
    wanted = pairs.min(dim=0).values * num_nodes + pairs.max(dim=0).values
    at = torch.searchsorted(keys, wanted).clamp(max=keys.numel() - 1)
    return keys[at] == wanted


def first_of_each_pair(pairs: Tensor, num_nodes: int) -> Tensor:
    """The positions in ``pairs`` (2 x n) of each unordered pair's first occurrence, ascending:
    a pair repeated, or given in both directions, is kept once, as it first appears."""
    return _first_occurrence(pairs.min(dim=0).values * num_nodes + pairs.max(dim=0).values)[1]


def sample_non_edges(edge_index: Tensor, num_nodes: int, count: int, generator: torch.Generator,
                     nodes: Tensor | None = None, distinct: bool = True, keys: Tensor | None = None) -> Tensor:
    """``count`` node pairs (2 x count) drawn uniformly from ``nodes`` (default all) that are not
    an edge of ``edge_index`` in either direction and not a self-loop; ``distinct``: no
    unordered pair twice. ``keys``: ``edge_keys(edge_index)`` when the caller has them."""
    pool = torch.arange(num_nodes) if nodes is None else nodes
    if pool.numel() < 2:
        raise ValueError(f"cannot sample non-edges among {pool.numel()} node(s)")
    keys = edge_keys(edge_index, num_nodes) if keys is None else keys
    possible = pool.numel() * (pool.numel() - 1) // 2 - _pairs_among(keys, pool, num_nodes).size(1)
    if distinct and count > possible:
        raise ValueError(f"asked for {count} distinct non-edges, only {possible} exist among the nodes")
    found = torch.empty(2, 0, dtype=torch.long)
    found_keys = torch.empty(0, dtype=torch.long)
    for _ in range(1000):
        need = count - found.size(1)
        if need <= 0:
            break
        draw = pool[torch.randint(pool.numel(), (2, int(need * 1.2) + 8), generator=generator)]
        draw = draw[:, (draw[0] != draw[1]) & ~contains(keys, draw, num_nodes)]
        if distinct:
            key = draw.min(dim=0).values * num_nodes + draw.max(dim=0).values
            _, first = _first_occurrence(key)
            draw, key = draw[:, first], key[first]
            fresh = ~torch.isin(key, found_keys)
            draw, key = draw[:, fresh], key[fresh]
            found_keys = torch.cat([found_keys, key[:need]])
        found = torch.cat([found, draw[:, :need]], dim=1)
    if found.size(1) < count:
        raise ValueError(f"could not draw {count} non-edges (the graph is nearly complete)")
    return found


def _pairs_among(keys: Tensor, pool: Tensor, num_nodes: int) -> Tensor:
    """The edges (as 2 x E, from ``keys``) whose both ends are in ``pool``."""
    low, high = keys // num_nodes, keys % num_nodes
    inside = torch.zeros(num_nodes, dtype=torch.bool)
    inside[pool] = True
    keep = inside[low] & inside[high]
    return torch.stack([low[keep], high[keep]])


def _first_occurrence(key: Tensor) -> tuple[Tensor, Tensor]:
    """The distinct values of ``key`` and the position of each one's first occurrence."""
    unique, inverse = key.unique(return_inverse=True)
    first = torch.full((unique.numel(),), key.numel(), dtype=torch.long)
    first.scatter_reduce_(0, inverse, torch.arange(key.numel()), reduce="amin")
    return unique, first.sort().values
