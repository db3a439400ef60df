"""Wall-clock timing of inference: warm, repeated, reported as the median."""
from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch


def _synchronise() -> None:
    """Wait for queued GPU work, so that a timing covers it (no-op without CUDA in use)."""
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()


def median_seconds(fn: Callable[[], object], repeats: int = 5, warmup: int = 1, budget: float = 20.0) -> float:
    """Median wall time of ``fn()`` over ``repeats`` calls after ``warmup`` untimed calls
    (on a GPU, each timing waits for the call's kernels to finish). Slow calls are repeated
    fewer times: timing stops once the timed calls have taken ``budget`` seconds (at least one
    call is timed)."""
    for _ in range(warmup):
        fn()
    times: list[float] = []
    for _ in range(repeats):
        if times and sum(times) >= budget:
            break
        _synchronise()
        start = time.perf_counter()
        fn()
        _synchronise()
        times.append(time.perf_counter() - start)
    return statistics.median(times)
