"""Random walks on a CSR adjacency and DeepWalk positional embeddings (skip-gram with negative
sampling), vectorised in torch: gkd's own, since PyG's Node2Vec needs torch-cluster or pyg-lib.

``deepwalk`` caches its result under ``GKD_CACHE_DIR/positional``, keyed by a hash of the whole
edge list and the settings, written atomically."""
from __future__ import annotations

import hashlib

import torch
import torch.nn.functional as F
from torch import Tensor

from ..io import cache_dir, read_cache, write_cache


def csr(edge_index: Tensor, num_nodes: int) -> tuple[Tensor, Tensor]:
    """(rowptr, col): the out-neighbours of node i are ``col[rowptr[i]:rowptr[i + 1]]``."""
    src, dst = edge_index
    order = torch.argsort(src * num_nodes + dst)
    counts = torch.bincount(src, minlength=num_nodes)
    rowptr = torch.zeros(num_nodes + 1, dtype=torch.long)
    rowptr[1:] = counts.cumsum(0)
    return rowptr, dst[order]


def random_walks(rowptr: Tensor, col: Tensor, starts: Tensor, length: int,
                 generator: torch.Generator | None = None) -> Tensor:
    """Uniform random walks: (S, length + 1) node ids, row s starting at ``starts[s]``; each step
    moves to a neighbour drawn uniformly; a node without neighbours stays where it is."""
    walks = torch.empty(len(starts), length + 1, dtype=torch.long)
    walks[:, 0] = current = starts
    degree = rowptr[1:] - rowptr[:-1]
    for step in range(1, length + 1):
        deg = degree[current]
        offset = (torch.rand(len(current), generator=generator) * deg).long()
        moved = col[(rowptr[current] + offset).clamp_max(max(len(col) - 1, 0))] if len(col) else current
        current = torch.where(deg > 0, moved, current)
        walks[:, step] = current
    return walks


def skipgram_pairs(walks: Tensor, window: int) -> tuple[Tensor, Tensor]:
    """(centre, context) for every position of every walk and every context position within
    ``window`` steps on either side."""
    centres, contexts = [], []
    for shift in range(1, window + 1):
        a, b = walks[:, :-shift].reshape(-1), walks[:, shift:].reshape(-1)
        centres += [a, b]
        contexts += [b, a]
    return torch.cat(centres), torch.cat(contexts)


def deepwalk(edge_index: Tensor, num_nodes: int, dim: int = 64, walks_per_node: int = 5, walk_length: int = 20,
             window: int = 5, negatives: int = 5, epochs: int = 1, lr: float = 0.01, batch_size: int = 16384,
             seed: int = 0, use_cache: bool = True) -> Tensor:
    """DeepWalk embeddings (Perozzi et al., KDD 2014): ``walks_per_node`` uniform walks of
    ``walk_length`` steps from every node, skip-gram pairs within ``window``, and a skip-gram
    model with ``negatives`` uniformly drawn negatives per pair trained by Adam for ``epochs``
    passes: loss = -log s(u_c . v_o) - sum_neg log s(-u_c . v_n). Returns the (num_nodes, dim)
    centre embeddings, deterministic under ``seed``."""
    settings = (tuple(edge_index.shape), num_nodes, dim, walks_per_node, walk_length, window, negatives, epochs, lr,
                batch_size, seed)
    digest = hashlib.sha256(repr(settings).encode())
    digest.update(edge_index.detach().cpu().contiguous().long().numpy().tobytes())  # the graph itself, every edge
    path = cache_dir("positional") / f"deepwalk-{digest.hexdigest()[:20]}.pt"
    cached = read_cache(path) if use_cache else None
    if isinstance(cached, torch.Tensor) and cached.shape == (num_nodes, dim):
        return cached
    gen = torch.Generator().manual_seed(seed)
    rowptr, col = csr(edge_index.cpu(), num_nodes)
    starts = torch.arange(num_nodes).repeat(walks_per_node)
    centre, context = skipgram_pairs(random_walks(rowptr, col, starts, walk_length, gen), window)
    torch.manual_seed(seed)
    u = torch.nn.Parameter(torch.randn(num_nodes, dim) / dim ** 0.5)
    v = torch.nn.Parameter(torch.zeros(num_nodes, dim))
    optimiser = torch.optim.Adam([u, v], lr=lr)
    for _ in range(epochs):
        order = torch.randperm(len(centre), generator=gen)
        for batch in order.split(batch_size):
            c, o = centre[batch], context[batch]
            neg = torch.randint(0, num_nodes, (len(batch), negatives), generator=gen)
            u_c = u[c]
            positive = F.logsigmoid((u_c * v[o]).sum(-1))
            negative = F.logsigmoid(-(u_c.unsqueeze(1) * v[neg]).sum(-1)).sum(-1)
            loss = -(positive + negative).mean()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    embedding = u.detach().clone()
    if use_cache:
        write_cache(embedding, path)
    return embedding
