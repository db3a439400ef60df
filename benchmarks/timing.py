"""Wall-clock timing of inference: warm, repeated, reported as the median."""
from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch

from gkd.train.memory import release_freed_memory


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


class PeakMemory:
    """Peak memory of a block of work, in MiB: ``with PeakMemory(device) as peak: ...`` then
    ``peak.mib``. On a GPU, the most memory torch allocated on it; on a CPU, the process's peak
    resident set (Linux ``VmHWM``), reset at the start of the block through
    ``/proc/self/clear_refs``. ``mib`` is None where the platform cannot reset or read the peak
    (then no per-run figure is honest)."""

    def __init__(self, device: str | torch.device = "cpu") -> None:
        self.device = torch.device(device)
        self.mib: float | None = None
        self._resettable = False

    def __enter__(self) -> "PeakMemory":
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
        else:
            self._resettable = _reset_peak_rss()
        return self

    def __exit__(self, *exc) -> None:
        if self.device.type == "cuda":
            self.mib = torch.cuda.max_memory_allocated(self.device) / 2**20
        elif self._resettable:
            self.mib = _peak_rss_mib()


def _reset_peak_rss() -> bool:
    release_freed_memory()  # memory kept for reuse by an earlier fit would count as this block's
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return _peak_rss_mib() is not None
    except OSError:
        return False


def _peak_rss_mib() -> float | None:
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def interleaved_medians(fns: dict[str, Callable[[], object]], rounds: int) -> dict[str, float]:
    """Median wall time of each of ``fns`` over ``rounds`` rounds, the calls taking turns within a
    round (one untimed warm-up call each first): a slow spell of a noisy machine then hits every
    implementation alike instead of whichever happened to be timed during it."""
    for fn in fns.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(max(rounds, 1)):
        for name, fn in fns.items():
            times[name].append(median_seconds(fn, repeats=1, warmup=0))
    return {name: statistics.median(values) for name, values in times.items()}
