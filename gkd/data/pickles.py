"""Reading the pickled input formats (Planetoid's raw files, CIFAR's python batches) without
running what a file says.

``pickle.load`` calls whatever callable a file names, so a tampered file runs code. Here the only
globals a file may name are the few that these formats hold, each of which only builds data:
NumPy arrays, numbers and dtypes, ``defaultdict`` and ``list`` (Planetoid's graph), and SciPy's CSR matrix,
which is not built at all: a ``SparseRows`` placeholder takes its stored fields, so SciPy is not
needed. Anything else is refused with an error that names the file and the global.
"""
from __future__ import annotations

import collections
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InvalidDataError

try:  # numpy >= 2 keeps its internals in numpy._core; its pickles and older ones say numpy.core
    from numpy._core.multiarray import _reconstruct as _array_reconstruct
    from numpy._core.multiarray import scalar as _array_scalar
except ImportError:  # pragma: no cover - numpy 1.x
    from numpy.core.multiarray import _reconstruct as _array_reconstruct
    from numpy.core.multiarray import scalar as _array_scalar


class SparseRows:
    """What a pickled ``scipy.sparse.csr_matrix`` holds (``_shape``, ``indptr``, ``indices``,
    ``data``), kept as plain fields; ``dense()`` is the matrix as a NumPy array."""

    _shape: tuple[int, int]
    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray

    def dense(self) -> np.ndarray:
        rows, cols = self._shape
        if self.indptr.shape != (rows + 1,) or self.indices.shape != self.data.shape:
            raise ValueError(f"a CSR matrix of shape {self._shape} with {self.indptr.size} row pointers and "
                             f"{self.indices.size} column indices for {self.data.size} values")
        if self.indices.size and (self.indices.min() < 0 or self.indices.max() >= cols):
            raise ValueError(f"a CSR matrix of {cols} columns names column {int(self.indices.max())}")
        out = np.zeros(self._shape, dtype=self.data.dtype)
        row_of = np.repeat(np.arange(rows), np.diff(self.indptr))
        out[row_of, self.indices] = self.data
        return out


ALLOWED: dict[tuple[str, str], Any] = {
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("numpy.core.multiarray", "_reconstruct"): _array_reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _array_reconstruct,
    ("numpy.core.multiarray", "scalar"): _array_scalar,  # a NumPy number from its dtype and bytes
    ("numpy._core.multiarray", "scalar"): _array_scalar,
    ("collections", "defaultdict"): collections.defaultdict,
    ("__builtin__", "list"): list,
    ("builtins", "list"): list,
    ("scipy.sparse.csr", "csr_matrix"): SparseRows,
    ("scipy.sparse._csr", "csr_matrix"): SparseRows,
}


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that builds only the types in ``ALLOWED``."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in ALLOWED:
            raise pickle.UnpicklingError(f"it names {module}.{name}, which this format never holds")
        return ALLOWED[(module, name)]


def load_pickle(path: str | Path) -> Any:
    """The contents of the pickle at ``path``, read by ``RestrictedUnpickler`` (Python 2 strings as
    latin-1); a file that names anything else, or is cut short, is an ``InvalidDataError`` naming
    the file."""
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            return RestrictedUnpickler(handle, encoding="latin1").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError) as exc:
        raise InvalidDataError(f"{path} is not a valid data pickle ({exc}); replace it with the original file") from exc
