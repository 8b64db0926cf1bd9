"""A killed owner's engine leftovers: ended by the next owner only when their owner is dead and they are vLLM's.
Real processes in their own sessions stand in for an engine's group (a `vllm` word on the command line is what
marks them as vLLM's)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from service.engine.leftovers import end_leftover_engine, read_record, record_path, remove_record, write_record
from service.engine.processes import group_processes, is_running
from tests.waiting import wait_for

SLEEPER = "import time; time.sleep(600)"


def session(*marks: str) -> subprocess.Popen[bytes]:
    """A process leading its own group, as an engine's server does; `marks` go on its command line."""
    return subprocess.Popen([sys.executable, "-c", SLEEPER, *marks], start_new_session=True)


@pytest.fixture
def started() -> Iterator[list[subprocess.Popen[bytes]]]:
    processes: list[subprocess.Popen[bytes]] = []
    yield processes
    for process in processes:
        process.kill()
        process.wait()


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def record(path: Path, owner: int, group: int) -> None:
    path.write_text(f'{{"owner": {owner}, "group": {group}}}')


async def test_a_dead_owners_vllm_group_is_ended(tmp_path: Path, started: list[subprocess.Popen[bytes]]) -> None:
    engine = session("vllm-engine-core-stand-in")
    started.append(engine)
    path = record_path(tmp_path, "judge/0")
    record(path, owner=dead_pid(), group=engine.pid)
    ended = await end_leftover_engine(path)
    assert ended == [engine.pid]
    assert group_processes(engine.pid) == []


async def test_an_owner_that_exited_unreaped_counts_as_dead(tmp_path: Path,
                                                             started: list[subprocess.Popen[bytes]]) -> None:
    """A killed owner is a zombie until its parent (Ray's raylet, a shell) reaps it: its leftovers are ended."""
    engine = session("vllm-engine-core-stand-in")
    started.append(engine)
    owner = subprocess.Popen([sys.executable, "-c", "pass"])
    wait_for(lambda: not is_running(owner.pid), "the owner exited (a zombie, not yet waited for)", timeout_s=30)
    assert Path(f"/proc/{owner.pid}").exists()  # not reaped yet
    path = record_path(tmp_path, "judge/0")
    record(path, owner=owner.pid, group=engine.pid)
    assert await end_leftover_engine(path) == [engine.pid]
    owner.wait()


async def test_a_live_owners_engine_is_left_alone(tmp_path: Path, started: list[subprocess.Popen[bytes]]) -> None:
    engine, owner = session("vllm-engine-core-stand-in"), session("another-gateway")
    started += [engine, owner]
    path = record_path(tmp_path, "judge/0")
    record(path, owner=owner.pid, group=engine.pid)
    assert await end_leftover_engine(path) == []
    assert [process.pid for process in group_processes(engine.pid)] == [engine.pid]


async def test_a_group_without_vllm_is_left_alone(tmp_path: Path, started: list[subprocess.Popen[bytes]]) -> None:
    reused = session("not-an-engine")  # the group number was reused by something else
    started.append(reused)
    path = record_path(tmp_path, "judge/0")
    record(path, owner=dead_pid(), group=reused.pid)
    assert await end_leftover_engine(path) == []
    assert group_processes(reused.pid) != []


async def test_no_record_or_a_damaged_one_ends_nothing(tmp_path: Path) -> None:
    path = record_path(tmp_path, "judge/0")
    assert await end_leftover_engine(path) == []
    path.write_text("{not json")
    assert read_record(path) is None and await end_leftover_engine(path) == []


def test_the_record_names_this_process_as_owner_and_is_removed_on_stop(tmp_path: Path) -> None:
    path = record_path(tmp_path, "ray-judge/1")
    write_record(path, 4242)
    assert path.name == "engine-ray-judge-1.owner"
    found = read_record(path)
    assert found is not None and (found.owner, found.group) == (os.getpid(), 4242)
    remove_record(path)
    assert not path.exists()
