"""What a killed owner left of its engine, found and ended by the next owner of that engine.

A managed engine dies with its owner (the gateway, or a Ray engine actor) only in part: when the owner is killed
outright (SIGKILL, the OOM killer), Linux sends the vLLM server SIGTERM, but its EngineCore and workers can
outlive it, holding gigabytes of memory (a GPU's, in production) that the owner's successor needs to start its
own engine. So each engine's owner writes down who it is and the engine's process group
(`engine-<name>.owner` in its runtime folder), and before an engine of that name starts there again, what a dead
owner left in that group is ended. A live owner's engine is never touched (two gateways may share a cache folder
and a judge's name), nor a group that holds no vLLM process (its number may have been reused).
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from service.engine.group_ending import end_group
from service.engine.processes import PROC, group_processes, is_running

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class EngineRecord:
    owner: int  # the process that started the engine and supervises it
    group: int  # the engine's process group (its server's pid)


def record_path(runtime_dir: Path, engine_name: str) -> Path:
    return runtime_dir / f"engine-{engine_name.replace('/', '-')}.owner"


def write_record(path: Path, group: int) -> None:
    path.write_text(json.dumps({"owner": os.getpid(), "group": group}))


def read_record(path: Path) -> EngineRecord | None:
    try:
        fields = json.loads(path.read_text())
        return EngineRecord(int(fields["owner"]), int(fields["group"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def remove_record(path: Path) -> None:
    path.unlink(missing_ok=True)


async def end_leftover_engine(path: Path) -> list[int]:
    """End what a dead owner left of the engine `path` records; the pids that were left (none: nothing to do)."""
    record = read_record(path)
    if record is None or record.owner == os.getpid() or is_running(record.owner):
        return []
    left = group_processes(record.group)
    if not any(_is_vllm(process.pid) for process in left):
        return []
    pids = [process.pid for process in left]
    logger.warning("ending what a killed owner (pid %d) left of its engine: process group %d, pids %s",
                   record.owner, record.group, pids,
                   extra={"event": "engine_leftover_ended", "owner": record.owner, "group": record.group,
                          "pids": pids})
    await end_group(record.group)
    return pids


def _is_vllm(pid: int) -> bool:
    try:
        return "vllm" in (PROC / str(pid) / "cmdline").read_bytes().decode(errors="replace").lower()
    except OSError:
        return False
