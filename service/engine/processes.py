"""What `/proc` says about a process group: its members, their CPU time and their memory (Linux only; elsewhere
every answer is empty). The supervisor uses it to end a whole engine and to explain a slow start-up."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_PAGE_BYTES = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


@dataclass(frozen=True)
class ProcessStat:
    pid: int
    group: int
    cpu_s: float
    rss_bytes: int


def _stat(pid_dir: Path) -> ProcessStat | None:
    try:
        raw = (pid_dir / "stat").read_text()
    except OSError:  # gone meanwhile, or not ours to read
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its last ')'.
    fields = raw[raw.rindex(")") + 2:].split()
    state = fields[0]
    if state == "Z":  # a zombie holds no resources; its parent reaps it
        return None
    utime, stime, rss_pages = int(fields[11]), int(fields[12]), int(fields[21])
    return ProcessStat(int(pid_dir.name), int(fields[2]), (utime + stime) / _CLOCK_TICKS, rss_pages * _PAGE_BYTES)


def is_running(pid: int) -> bool:
    """Whether process `pid` exists and has not exited: a zombie (exited, not yet reaped by its parent) has."""
    return _stat(PROC / str(pid)) is not None


def group_processes(group: int) -> list[ProcessStat]:
    """The live processes of process group `group` (an engine and its EngineCore and worker children)."""
    if not PROC.is_dir():
        return []
    found = []
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            stat = _stat(entry)
            if stat is not None and stat.group == group:
                found.append(stat)
    return found


def group_cpu_seconds(group: int) -> float:
    return sum(process.cpu_s for process in group_processes(group))


def group_rss_bytes(group: int) -> int:
    return sum(process.rss_bytes for process in group_processes(group))
