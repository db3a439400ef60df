"""Sparse adjacency matrices in CSR form, the fast path for full-batch propagation on CPU.

``propagate(data, h, norm)`` computes ``A_norm @ h`` with a CSR sparse-dense product (``spmm``:
32-bit indices where they fit, the product written by ``addmm`` straight into an uninitialised
output, which skips the zero fill and the copy ``torch.sparse.mm`` makes). The transpose is built
once next to the matrix, so the backward pass is a second CSR product instead of torch's generic
sparse transpose.

Matrices are cached on the ``Data`` object (attribute ``_gkd_adjacency``, which PyG does not
collate), so a full-batch node task builds each normalisation once.
"""
from __future__ import annotations

import copy
import warnings
from typing import Literal

import torch
from torch import Tensor
from torch_geometric.data import Data

Norm = Literal["mean", "sym", "sum", "mean_loops"]


INT32_LIMIT = 2**31 - 1


def compact(matrix: Tensor) -> Tensor:
    """``matrix`` (CSR) with 32-bit row pointers and column indices when its entries and columns
    fit: MKL's products over 32-bit indices run faster, and the indices take half the memory."""
    if matrix.crow_indices().dtype == torch.int32 or max(matrix._nnz(), matrix.size(1)) > INT32_LIMIT:
        return matrix
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torch.sparse_csr_tensor(matrix.crow_indices().int(), matrix.col_indices().int(), matrix.values(),
                                       size=matrix.shape)


def spmm(matrix: Tensor, dense: Tensor) -> Tensor:
    """``matrix @ dense`` for a CSR ``matrix``: ``addmm`` with beta 0 into an uninitialised output
    (rows without entries come out zero). In the matrix's precision: a bf16 ``dense`` (a step
    under autocast) is multiplied in fp32 and the product returned in bf16."""
    dtype = dense.dtype
    with torch.autocast(dense.device.type, enabled=False):
        dense = dense.to(matrix.dtype).contiguous()
        out = dense.new_empty(matrix.size(0), dense.size(1))
        out = torch.addmm(out, matrix, dense, beta=0, out=out)
    return out if out.dtype == dtype else out.to(dtype)


class _CSRProduct(torch.autograd.Function):
    @staticmethod
    def forward(ctx, adjacency: "SparseAdjacency", dense: Tensor) -> Tensor:  # type: ignore[override]
        ctx.adjacency = adjacency
        return spmm(adjacency.matrix, dense)

    @staticmethod
    def backward(ctx, grad: Tensor):  # type: ignore[override]
        return None, spmm(ctx.adjacency.transpose, grad)


def normalised_edges(edge_index: Tensor, nodes: Tensor, norm: Norm) -> tuple[Tensor, Tensor, Tensor]:
    """The entries of ``A_norm`` as (source, receiver, weight) per edge, self loops added where
    the normalisation has them; ``nodes``: ``arange(num_nodes)`` (a tensor, so that a traced
    export keeps the node count an input's size, not a constant)."""
    src, dst = edge_index[0], edge_index[1]
    if norm in ("sym", "mean_loops"):
        src, dst = torch.cat([src, nodes]), torch.cat([dst, nodes])
    ones = torch.ones_like(src, dtype=torch.float)
    in_degree = torch.zeros_like(nodes, dtype=torch.float).scatter_add(0, dst, ones)
    if norm in ("mean", "mean_loops"):
        weight = 1.0 / in_degree.clamp(min=1)[dst]
    elif norm == "sym":
        inv_sqrt = in_degree.clamp(min=1).pow(-0.5)
        weight = inv_sqrt[src] * inv_sqrt[dst]
    elif norm == "sum":
        weight = ones
    else:
        raise ValueError(f"unknown normalisation {norm!r}; valid: mean, sym, sum, mean_loops")
    return src, dst, weight


class EdgeListAdjacency:
    """``A_norm`` kept as its edge list; ``A_norm @ h`` gathers the sources' rows and adds them
    into the receivers' (``scatter_add``, ONNX's ScatterElements with an add reduction). Slower
    than the CSR product, but every operator in it traces (TorchScript) and exports to ONNX,
    which sparse CSR tensors do not: the adjacency ``gkd.export`` runs a GNN on
    (``use_edge_lists``)."""

    def __init__(self, edge_index: Tensor, norm: Norm):
        self.edge_index, self.norm = edge_index, norm

    def __matmul__(self, h: Tensor) -> Tensor:
        nodes = torch.arange(h.size(0), device=h.device)
        src, dst, weight = normalised_edges(self.edge_index, nodes, self.norm)
        messages = h[src] * weight.unsqueeze(-1).to(h.dtype)
        return torch.zeros_like(h).scatter_add(0, dst.unsqueeze(-1).expand_as(messages), messages)


def use_edge_lists(data: Data) -> Data:
    """Mark ``data`` so that its adjacency is an ``EdgeListAdjacency`` (exportable operators) instead
    of a CSR matrix; returns ``data``."""
    data.__dict__["_gkd_edge_lists"] = True
    return data


class SparseAdjacency:
    """``A`` (rows = receiving nodes) and ``A^T`` as CSR tensors for one normalisation.

    ``mean``: row-normalised, no self loops (SAGE's mean aggregator).
    ``mean_loops``: (A + I) row-normalised, the mean over a node and its in-neighbours (DGL's
    SAGEConv ``gcn`` aggregator).
    ``sym``: D^-1/2 (A + I) D^-1/2 (GCN).
    ``sum``: plain sum over in-neighbours (GIN).

    ``A^T`` is built on the first backward pass, so inference never pays for it; ``rows(a, b)``
    is a block of rows sharing the matrix's storage (layer-wise inference), and ``leading(r, c)``
    the top-left r x c block as an adjacency of its own (a sampled subgraph trimmed per layer).
    """

    def __init__(self, edge_index: Tensor, num_nodes: int, norm: Norm):
        src, dst, weight = normalised_edges(edge_index, torch.arange(num_nodes, device=edge_index.device), norm)
        size = (num_nodes, num_nodes)
        with warnings.catch_warnings():  # torch flags sparse CSR as beta
            warnings.simplefilter("ignore")
            coo = torch.sparse_coo_tensor(torch.stack([dst, src]), weight, size).coalesce()
            self.matrix = compact(coo.to_sparse_csr())
        self._transpose: Tensor | None = None

    @classmethod
    def of_matrix(cls, matrix: Tensor) -> "SparseAdjacency":
        """An adjacency around an existing (possibly rectangular) CSR ``matrix``."""
        block = cls.__new__(cls)
        block.matrix, block._transpose = matrix, None
        return block

    @property
    def transpose(self) -> Tensor:
        """``A^T`` as CSR (built once, on first use)."""
        if self._transpose is None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self._transpose = compact(self.matrix.to_sparse_coo().t().coalesce().to_sparse_csr())
        return self._transpose

    def rows(self, start: int, end: int, columns: int | None = None) -> Tensor:
        """Rows ``start:end`` of ``A`` as a (end - start, columns) CSR tensor over the same storage
        (``columns``: all of them by default; fewer only when no entry of these rows lies beyond)."""
        crow = self.matrix.crow_indices()
        lo, hi = int(crow[start]), int(crow[end])
        col = self.matrix.col_indices()[lo:hi]
        width = self.matrix.size(1) if columns is None else columns
        if width < self.matrix.size(1) and col.numel() and int(col.max()) >= width:
            raise ValueError(f"rows {start}:{end} read column {int(col.max())}, beyond the {width} asked for")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return torch.sparse_csr_tensor(crow[start:end + 1] - lo, col, self.matrix.values()[lo:hi],
                                           size=(end - start, width))

    def leading(self, rows: int, columns: int) -> "SparseAdjacency":
        """The first ``rows`` rows over the first ``columns`` columns, with its own (lazy)
        transpose for the backward pass. The rows must not read beyond ``columns``: in a
        subgraph whose nodes are ordered by hop, the nodes up to hop k read nodes up to hop k + 1."""
        return SparseAdjacency.of_matrix(self.rows(0, rows, columns))

    def __matmul__(self, dense: Tensor) -> Tensor:
        if dense.requires_grad:
            return _CSRProduct.apply(self, dense)
        return spmm(self.matrix, dense)


def adjacency(data: Data, norm: Norm) -> SparseAdjacency | EdgeListAdjacency:
    """The (cached) normalised adjacency of ``data`` (its edge list if ``use_edge_lists`` marked it)."""
    if data.__dict__.get("_gkd_edge_lists", False):
        return EdgeListAdjacency(data.edge_index, norm)
    cache = data.__dict__.setdefault("_gkd_adjacency", {})
    key = (norm, data.edge_index.data_ptr(), data.edge_index.size(1), data.edge_index.device)
    if key not in cache:
        cache.clear() if len(cache) > 8 else None
        cache[key] = SparseAdjacency(data.edge_index, int(data.num_nodes), norm)
    return cache[key]


def propagate(data: Data, h: Tensor, norm: Norm) -> Tensor:
    return adjacency(data, norm) @ h


def with_features(data: Data, x: Tensor) -> Data:
    """A shallow copy of ``data`` with features ``x``: it shares the edges and the cached CSR
    adjacency (``copy.copy`` keeps ``__dict__``), so perturbing costs no matrix rebuild."""
    out = copy.copy(data)
    out.x = x
    return out
