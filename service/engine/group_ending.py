"""Ending an engine's whole process group: the server, then whatever it left (also when it is dead). A killed API
server leaves its EngineCore and worker children (gigabytes) behind otherwise. And on Linux, a parent-death
signal makes an engine die with the gateway."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import signal
import sys
import time

from service.engine.processes import group_processes

logger = logging.getLogger(__name__)

STOP_GRACE_S = 15.0
_PR_SET_PDEATHSIG = 1


async def end_process_and_group(process: asyncio.subprocess.Process) -> None:
    """SIGTERM the group's leader and wait `STOP_GRACE_S` for it (then SIGKILL), then end what is left."""
    if process.returncode is None:
        signal_group(process.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), STOP_GRACE_S)
        except TimeoutError:
            signal_group(process.pid, signal.SIGKILL)
            await process.wait()
    await end_group(process.pid)


async def end_group(group: int) -> None:
    """SIGTERM what is left of process group `group`, then SIGKILL it after `STOP_GRACE_S`; log what survives."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if not group_processes(group):
            return
        signal_group(group, sig)
        deadline = time.monotonic() + STOP_GRACE_S
        while group_processes(group) and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
    survivors = [process.pid for process in group_processes(group)]
    if survivors:
        logger.error("engine process group %d survived SIGKILL: %s", group, survivors,
                     extra={"event": "engine_group_survived", "group": group, "pids": survivors})


def signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def die_with_parent() -> None:
    """Runs in the child before exec: ask Linux to SIGTERM it when the gateway dies."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
