"""How the process's memory allocator treats the large temporary tensors of a training step.

Each full-graph step makes tensors of hundreds of MB (an arxiv-sized layer's output is 173 MB).
glibc's malloc serves blocks that large with a fresh ``mmap`` and unmaps them when freed, so every
step pays the kernel for zero-filled pages again (writing a fresh 173 MB tensor costs several
times writing into one whose pages are mapped). ``keep_freed_memory`` asks malloc to serve them
from its heap and keep freed memory there for the next step instead. The price: the process keeps
its peak memory mapped until it exits, as a caching allocator does.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os

M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4
_applied: bool | None = None


def keep_freed_memory() -> bool:
    """Once per process: glibc's ``mallopt(M_MMAP_MAX, 0)`` (large blocks from the heap) and a
    1 GiB ``M_TRIM_THRESHOLD`` (freed memory kept for reuse). ``gkd.fit`` calls it when it trains
    on a CPU; set ``GKD_KEEP_FREED_MEMORY=0`` to leave the allocator alone. Returns whether the
    setting is in force (False where the C library is not glibc)."""
    global _applied
    if _applied is not None:
        return _applied
    _applied = False
    if os.environ.get("GKD_KEEP_FREED_MEMORY", "1") == "0":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    _applied = bool(mallopt(M_MMAP_MAX, 0)) and bool(mallopt(M_TRIM_THRESHOLD, 1 << 30))
    return _applied


def release_freed_memory() -> bool:
    """Hand the memory malloc keeps for reuse back to the system now (glibc's ``malloc_trim(0)``),
    so that the resident set is what live tensors use: a peak-memory measurement starts here.
    Returns whether anything was released (False where the C library is not glibc)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.malloc_trim(0))
    except (OSError, AttributeError):
        return False
