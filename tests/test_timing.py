"""Timing and peak-memory meters of the benchmark's cost columns."""
import sys

import pytest
import torch

from benchmarks.timing import PeakMemory, median_seconds


def test_median_seconds_is_the_median_of_the_timed_calls():
    calls = []
    assert median_seconds(lambda: calls.append(1), repeats=3, warmup=2) >= 0
    assert len(calls) == 5


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the CPU peak is read from /proc")
def test_peak_memory_sees_a_block_s_allocation_and_resets_between_blocks():
    with PeakMemory() as big:
        block = torch.ones(256 * 2**20 // 4)  # 256 MiB
        block += 1
        del block
    with PeakMemory() as small:
        torch.ones(16).sum()
    assert big.mib is not None and small.mib is not None
    assert big.mib - small.mib > 200  # the second block does not inherit the first one's peak
