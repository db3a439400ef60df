"""A first linear layer that reads mostly-zero input features (bag-of-words) as a sparse matrix.

Citation graphs' features are word indicators: about 1.3% of Cora's 2,708 x 1,433 entries and
0.85% of CiteSeer's are non-zero. A dense layer multiplies every zero; ``SparseInputLinear``
keeps the features' CSR form (made once per feature tensor and kept while that tensor stands) and
computes x W^T + b, and in the backward pass the weight's gradient x^T g, from it. The result is
the dense layer's up to summation order (float32 rounding). Features that need a gradient (a
perturbation search on the input), that are denser than ``MAX_DENSITY`` or that live off the CPU
take the dense path unchanged, as does a traced export (TorchScript, ONNX: CSR tensors do not trace).
"""
from __future__ import annotations

import warnings
import weakref

import torch
from torch import Tensor, nn

from ..graph.adjacency import compact, spmm

MAX_DENSITY = 0.1
"""Inputs with at most this share of non-zero entries are multiplied as CSR matrices."""
SEEN = 4
"""How many recent inputs a layer remembers: one seen again among them is made sparse."""


class _SparseRows:
    """The CSR form of one feature tensor and of its transpose (32-bit indices), or the finding
    that the tensor is too dense; kept with the tensor so the key cannot be reused."""

    def __init__(self, x: Tensor):
        self.source = x
        self.key = _key(x)
        nonzero = int(torch.count_nonzero(x))
        self.sparse = nonzero <= MAX_DENSITY * x.numel()
        if self.sparse:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # torch calls its CSR support beta
                self.matrix = compact(x.to_sparse_csr())
                self.transpose = compact(x.t().to_sparse_csr())


def _key(x: Tensor) -> tuple:
    return x.data_ptr(), tuple(x.shape), x.stride(), x._version


class _SparseLinear(torch.autograd.Function):
    @staticmethod
    def forward(ctx, rows: _SparseRows, weight: Tensor, bias: Tensor | None) -> Tensor:  # type: ignore[override]
        ctx.rows, ctx.has_bias = rows, bias is not None
        out = spmm(rows.matrix, weight.t())
        return out.add_(bias) if bias is not None else out

    @staticmethod
    def backward(ctx, grad: Tensor):  # type: ignore[override]
        grad_weight = spmm(ctx.rows.transpose, grad).t()
        grad_bias = grad.sum(0) if ctx.has_bias else None
        return None, grad_weight, grad_bias


class SparseInputLinear(nn.Linear):
    """``nn.Linear`` (same parameters, same results up to rounding) that multiplies mostly-zero
    CPU inputs without gradient in CSR form: a first layer over bag-of-words features."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True):
        super().__init__(in_features, out_features, bias)
        self._rows: _SparseRows | None = None
        # the last few inputs seen once (training and evaluation alternate), held weakly: a freed
        # input's address can come back for another tensor, which must not count as seen
        self._seen: list[tuple[tuple, weakref.ref]] = []

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 2 or x.device.type != "cpu" or x.requires_grad or x.layout != torch.strided \
                or x.dtype != self.weight.dtype or torch.is_autocast_enabled("cpu") or torch.jit.is_tracing():
            return super().forward(x)
        key = _key(x)
        if self._rows is None or self._rows.key != key:
            if not any(k == key and ref() is not None for k, ref in self._seen):
                # seen once: dense (a mini-batch's or an evaluation's rows are new tensors each time)
                self._seen = self._seen[-(SEEN - 1):] + [(key, weakref.ref(x))]
                return super().forward(x)
            self._rows = _SparseRows(x)  # the same features again (full-batch training): worth the CSR
        if not self._rows.sparse:
            return super().forward(x)
        return _SparseLinear.apply(self._rows, self.weight, self.bias)
