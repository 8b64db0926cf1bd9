"""The managed engine's vLLM command line (device defaults, chunked prefill, seeds, bind address) and its lifecycle
log lines, process-group clean-up, start-up diagnosis and core choice (stand-in processes; no vLLM is started)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
import uuid
from pathlib import Path

import pytest

from service.engine import supervisor
from service.engine.cpu_binding import choose_cores, cores_per_engine
from service.engine.launch import (
    GPU_PROBE,
    UNIX_SOCKET_PATH_MAX,
    Device,
    EngineLaunch,
    EngineTarget,
    engine_launch,
    engine_options,
    engine_tmp_dir,
)
from service.engine.processes import group_processes
from service.engine.supervisor import ManagedEngine
from service.logs import JsonFormatter
from service.settings import ManagedEngineSettings
from service.state import assign_cpu_cores
from tests.waiting import until


def launch(device: Device, cpu_binding: str | None = None, **settings: object) -> EngineLaunch:
    """The pure answer: what the engine runs, for these settings on this device."""
    engine_settings = ManagedEngineSettings(**settings)
    target = EngineTarget(Path("/models/judge"), "judge", 2048, 8123, Path("/run/genrm"))
    return engine_launch(engine_settings, engine_options(engine_settings, device), target, cpu_binding,
                         {"PATH": "/usr/bin"})


def engine(tmp_path: Path, stand_in: list[str] | None = None, **settings: object) -> ManagedEngine:
    return ManagedEngine("judge/0", "judge", Path("/models/judge"), 2048, ManagedEngineSettings(**settings), tmp_path,
                         stand_in=stand_in)


def test_a_cpu_engine_turns_chunked_prefill_off_so_seeds_are_safe() -> None:
    assert "--no-enable-chunked-prefill" in launch("cpu").argv
    assert engine_options(ManagedEngineSettings(), "cpu").takes_per_request_seeds


def test_a_cpu_engine_with_chunked_prefill_on_refuses_seeds() -> None:
    argv = launch("cpu", chunked_prefill=True).argv
    assert "--enable-chunked-prefill" in argv and "--no-enable-chunked-prefill" not in argv
    assert not engine_options(ManagedEngineSettings(chunked_prefill=True), "cpu").takes_per_request_seeds


@pytest.mark.parametrize(("setting", "flag"), [(None, None), (True, "--enable-chunked-prefill"),
                                               (False, "--no-enable-chunked-prefill")])
def test_a_gpu_engine_keeps_vllms_default_unless_told(setting: bool | None, flag: str | None) -> None:
    flags = [arg for arg in launch("cuda", chunked_prefill=setting).argv if "chunked-prefill" in arg]
    assert flags == ([flag] if flag else [])
    assert engine_options(ManagedEngineSettings(chunked_prefill=setting), "cuda").takes_per_request_seeds


def flag_value(command: list[str], flag: str) -> str | None:
    return command[command.index(flag) + 1] if flag in command else None


def test_a_gpu_engine_gets_gpu_defaults_not_the_cpu_ones() -> None:
    gpu = launch("cuda", gpu_memory_utilization=0.8, cuda_visible_devices="1")
    assert flag_value(gpu.argv, "--dtype") == "auto"
    assert "--enforce-eager" not in gpu.argv  # CUDA graphs
    assert "--block-size" not in gpu.argv  # vLLM's own, tuned for its GPU kernels
    assert flag_value(gpu.argv, "--gpu-memory-utilization") == "0.8" and gpu.env["CUDA_VISIBLE_DEVICES"] == "1"
    assert "VLLM_CPU_KVCACHE_SPACE" not in gpu.env


def test_a_cpu_engine_gets_cpu_defaults_and_its_cores() -> None:
    cpu = launch("cpu", cpu_binding="1", cpu_kv_cache_gib=2, gpu_memory_utilization=0.8)
    assert flag_value(cpu.argv, "--dtype") == "float32"
    assert "--enforce-eager" in cpu.argv
    assert flag_value(cpu.argv, "--block-size") == "32"
    assert "--gpu-memory-utilization" not in cpu.argv
    assert (cpu.env["VLLM_CPU_OMP_THREADS_BIND"], cpu.env["VLLM_CPU_KVCACHE_SPACE"]) == ("1", "2")
    assert cpu.env["PATH"] == "/usr/bin" and cpu.env["VLLM_CACHE_ROOT"] == "/run/genrm/vllm-cache"


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_every_managed_engine_loads_the_forced_ending_processor(device: Device) -> None:
    argv = launch(device).argv
    assert flag_value(argv, "--logits-processors") == "service.engine.forced_ending_processor:ForcedEnding"


def test_explicit_engine_settings_win_over_the_device_defaults() -> None:
    argv = launch("cuda", dtype="bfloat16", enforce_eager=True, block_size=32, extra_args=["--seed", "3"]).argv
    assert flag_value(argv, "--dtype") == "bfloat16"
    assert "--enforce-eager" in argv and flag_value(argv, "--block-size") == "32"
    assert argv[-2:] == ["--seed", "3"]


def test_an_engine_listens_on_loopback_unless_told(tmp_path: Path) -> None:
    assert flag_value(launch("cpu").argv, "--host") == "127.0.0.1"
    assert flag_value(launch("cpu", bind_host="0.0.0.0").argv, "--host") == "0.0.0.0"
    exposed = engine(tmp_path, bind_host="0.0.0.0", port=8101, device="cpu")
    assert flag_value(exposed.launch().argv, "--port") == "8101"
    assert exposed.url == "http://127.0.0.1:8101"  # the gateway still reaches it locally


def test_the_engines_tmpdir_keeps_its_socket_paths_within_the_unix_limit() -> None:
    """vLLM binds ZeroMQ sockets at `$TMPDIR/<uuid4>`; under a deep cache folder that path passed 107 bytes and the
    engine failed to start, again and again."""
    shallow = Path("/srv/genrm/.cache/run")
    assert engine_tmp_dir(shallow) == shallow / "tmp"
    deep = Path("/tmp/pytest-of-someone/pytest-123/test_a_gateway_killed_outright_leaves_no_engine0/cache/run")
    chosen = engine_tmp_dir(deep)
    assert len(f"{chosen}/{uuid.uuid4()}".encode()) <= UNIX_SOCKET_PATH_MAX
    assert chosen == engine_tmp_dir(deep) and chosen != engine_tmp_dir(deep / "other")  # one per runtime folder
    cpu = ManagedEngineSettings(device="cpu")
    launched = engine_launch(cpu, engine_options(cpu, "cpu"), EngineTarget(Path("/m"), "judge", 2048, 8000, deep),
                             None, {})
    assert launched.env["TMPDIR"] == str(chosen)


def test_the_installer_detects_a_gpu_as_the_gateway_does() -> None:
    """One rule for `device: auto` and for which engine the installer installs: `nvidia-smi -L` succeeds."""
    installer = (Path(__file__).resolve().parents[2] / "scripts" / "install.sh").read_text()
    assert " ".join(GPU_PROBE) in installer and "command -v nvidia-smi" in installer


async def test_engine_lifecycle_events_are_structured_log_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A process that exits at once: its start and its exit are JSON lines with the event, engine and pid."""
    dying = engine(tmp_path, [sys.executable, "-c", "raise SystemExit(3)"], device="cpu", startup_timeout_s=30)
    with caplog.at_level(logging.INFO, logger="service.engine.supervisor"):
        await dying.start()
        for _ in range(100):
            if any(getattr(r, "event", None) == "engine_exited" for r in caplog.records):
                break
            await asyncio.sleep(0.05)
        await dying.stop()
    lines = [json.loads(JsonFormatter().format(r)) for r in caplog.records if hasattr(r, "event")]
    started, exited = lines[0], next(line for line in lines if line["event"] == "engine_exited")
    assert (started["event"], started["engine"], started["device"], started["state"]) == (
        "engine_starting", "judge/0", "cpu", "starting")
    assert isinstance(started["pid"], int)
    assert (exited["exit_code"], exited["restarts"]) == (3, 0) and exited["level"] == "warning"


SERVER_WITH_A_CHILD = (
    "import subprocess, sys, time\n"
    "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
    "time.sleep(600)\n"
)


async def test_a_killed_server_leaves_no_child_behind_after_restart_or_stop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGKILL to the server process only (as the OOM killer or an operator does): its child, standing in for
    vLLM's EngineCore, is ended before the restart, and the restarted group is ended by stop()."""
    server = engine(tmp_path, [sys.executable, "-c", SERVER_WITH_A_CHILD], device="cpu", startup_timeout_s=60)
    await server.start()
    first = server.pid
    assert first is not None
    await until(lambda: len(group_processes(first)) == 2, "the server and its child run", timeout_s=20)
    os.kill(first, signal.SIGKILL)
    await until(lambda: server.pid != first and server.pid is not None, "the server was restarted", timeout_s=20)
    assert group_processes(first) == []
    second = server.pid
    assert second is not None
    await until(lambda: len(group_processes(second)) == 2, "the restarted server and its child run",
                timeout_s=20)
    await server.stop()
    assert group_processes(second) == []


async def test_a_starved_start_up_is_reported_with_its_cause_and_the_setting_that_fixes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A process that never gets ready and uses no CPU: progress lines while it waits, then a start-up error
    that says it got ~0 % of a CPU and names `cpu_threads_bind`."""
    stuck = engine(tmp_path, ["sleep", "600"], device="cpu", startup_timeout_s=1.5, cpu_threads_bind="0")
    monkeypatch.setattr(supervisor, "PROGRESS_INTERVAL_S", 0.5)
    with caplog.at_level(logging.INFO, logger="service.engine.supervisor"):
        await stuck.start()
        await until(lambda: any(getattr(r, "event", None) == "engine_startup_timeout" for r in caplog.records),
                    "the start-up timed out", timeout_s=20)
        await stuck.stop()
    progress = [r for r in caplog.records if getattr(r, "event", None) == "engine_still_starting"]
    assert progress and all(r.starved for r in progress)  # type: ignore[attr-defined]
    failure = next(r for r in caplog.records if getattr(r, "event", None) == "engine_startup_timeout")
    assert "of a CPU" in failure.getMessage() and "cpu_threads_bind" in failure.getMessage()
    assert "its cores (0)" in failure.getMessage()


def test_unpinned_cpu_engines_get_the_idlest_free_cores_never_one_another_engine_holds(tmp_path: Path) -> None:
    busy = {0: 0.95, 1: 0.0, 2: 0.1, 3: 0.0}
    assert choose_cores(1, [], busy, [0, 1, 2, 3]) == [3]
    assert choose_cores(2, [3], busy, [0, 1, 2, 3]) == [1, 2]
    assert choose_cores(1, [0, 1], {0: 0.0, 1: 0.0}, [0, 1]) == [1]  # nothing free: share, but not core 0 first
    assert cores_per_engine(1, 2) == 1 and cores_per_engine(2, 16) == 7
    pinned, free_a, free_b = (engine(tmp_path, device="cpu", cpu_threads_bind="0-1"), engine(tmp_path, device="cpu"),
                              engine(tmp_path, device="cpu"))
    assign_cpu_cores([pinned, free_a, free_b], allowed=[0, 1, 2, 3, 4, 5, 6], busy={6: 0.9})  # a 7-core host
    assert pinned.cpu_binding == "0-1"
    assert (free_a.cpu_binding, free_b.cpu_binding) == ("4,5", "2,3")  # 2 cores each, the busy core 6 left alone
    assert free_a.launch().env["VLLM_CPU_OMP_THREADS_BIND"] == "4,5"


def test_on_a_two_core_host_two_unpinned_engines_still_get_different_cores(tmp_path: Path) -> None:
    """This VM's case: one core each, the idler one first."""
    engines = [engine(tmp_path, device="cpu"), engine(tmp_path, device="cpu")]
    assign_cpu_cores(engines, allowed=[0, 1], busy={0: 0.5, 1: 0.0})
    assert [e.cpu_binding for e in engines] == ["1", "0"]
