"""Connected components of a graph, and the standardisation the GNN-to-MLP papers apply before
they train: unweighted, undirected, no self-loops, the largest connected component."""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
from scipy.sparse.csgraph import connected_components
from torch import Tensor
from torch_geometric.utils import remove_self_loops, to_undirected


def undirected_simple(edge_index: Tensor, num_nodes: int) -> Tensor:
    """Every edge in both directions, once each, without self-loops (sorted by source, then target)."""
    return to_undirected(remove_self_loops(edge_index)[0], num_nodes=num_nodes)


def largest_component(edge_index: Tensor, num_nodes: int) -> Tensor:
    """The nodes of the largest connected component (edges read as undirected), in ascending
    order; of components of equal size, the one holding the lowest node id."""
    src, dst = edge_index.numpy()
    matrix = sp.coo_matrix((np.ones(src.size), (src, dst)), shape=(num_nodes, num_nodes))
    _, labels = connected_components(matrix, directed=False)
    sizes = np.bincount(labels)
    first_node = np.full(sizes.size, num_nodes)
    np.minimum.at(first_node, labels, np.arange(num_nodes))
    biggest = min(np.flatnonzero(sizes == sizes.max()), key=lambda c: first_node[c])
    return torch.from_numpy(np.flatnonzero(labels == biggest)).long()


def induced_subgraph(edge_index: Tensor, nodes: Tensor, num_nodes: int) -> Tensor:
    """The edges among ``nodes`` (ascending ids), renumbered 0..len(nodes)-1 in that order."""
    new_id = torch.full((num_nodes,), -1, dtype=torch.long)
    new_id[nodes] = torch.arange(nodes.numel())
    kept = (new_id[edge_index[0]] >= 0) & (new_id[edge_index[1]] >= 0)
    return new_id[edge_index[:, kept]]
