"""The managed engine's vLLM command line (device defaults, chunked prefill, seeds, bind address) and its lifecycle
log lines (a stand-in process; no vLLM is started)."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from pathlib import Path

import pytest

from service.engine.supervisor import ManagedEngine
from service.logs import JsonFormatter
from service.settings import ManagedEngineSettings


def engine(tmp_path: Path, **settings: object) -> ManagedEngine:
    return ManagedEngine("judge/0", "judge", Path("/models/judge"), 2048, ManagedEngineSettings(**settings), tmp_path)


def test_a_cpu_engine_turns_chunked_prefill_off_so_seeds_are_safe(tmp_path: Path) -> None:
    cpu = engine(tmp_path, device="cpu")
    assert "--no-enable-chunked-prefill" in cpu.command()
    assert cpu.takes_per_request_seeds


def test_a_cpu_engine_with_chunked_prefill_on_refuses_seeds(tmp_path: Path) -> None:
    cpu = engine(tmp_path, device="cpu", chunked_prefill=True)
    assert "--enable-chunked-prefill" in cpu.command() and "--no-enable-chunked-prefill" not in cpu.command()
    assert not cpu.takes_per_request_seeds


@pytest.mark.parametrize(("setting", "flag"), [(None, None), (True, "--enable-chunked-prefill"),
                                               (False, "--no-enable-chunked-prefill")])
def test_a_gpu_engine_keeps_vllms_default_unless_told(tmp_path: Path, setting: bool | None, flag: str | None) -> None:
    gpu = engine(tmp_path, device="cuda", chunked_prefill=setting)
    flags = [arg for arg in gpu.command() if "chunked-prefill" in arg]
    assert flags == ([flag] if flag else [])
    assert gpu.takes_per_request_seeds


def flag_value(command: list[str], flag: str) -> str | None:
    return command[command.index(flag) + 1] if flag in command else None


def test_a_gpu_engine_gets_gpu_defaults_not_the_cpu_ones(tmp_path: Path) -> None:
    command = engine(tmp_path, device="cuda").command()
    assert flag_value(command, "--dtype") == "auto"
    assert "--enforce-eager" not in command  # CUDA graphs
    assert "--block-size" not in command  # vLLM's own, tuned for its GPU kernels


def test_a_cpu_engine_gets_cpu_defaults(tmp_path: Path) -> None:
    command = engine(tmp_path, device="cpu").command()
    assert flag_value(command, "--dtype") == "float32"
    assert "--enforce-eager" in command
    assert flag_value(command, "--block-size") == "32"


def test_explicit_engine_settings_win_over_the_device_defaults(tmp_path: Path) -> None:
    command = engine(tmp_path, device="cuda", dtype="bfloat16", enforce_eager=True, block_size=32).command()
    assert flag_value(command, "--dtype") == "bfloat16"
    assert "--enforce-eager" in command and flag_value(command, "--block-size") == "32"


def test_an_engine_listens_on_loopback_unless_told(tmp_path: Path) -> None:
    assert flag_value(engine(tmp_path).command(), "--host") == "127.0.0.1"
    exposed = engine(tmp_path, bind_host="0.0.0.0", port=8101)
    assert flag_value(exposed.command(), "--host") == "0.0.0.0"
    assert exposed.url == "http://127.0.0.1:8101"  # the gateway still reaches it locally


async def test_engine_lifecycle_events_are_structured_log_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A process that exits at once: its start and its exit are JSON lines with the event, engine and pid."""
    dying = engine(tmp_path, device="cpu", startup_timeout_s=30)
    monkeypatch.setattr(dying, "command", lambda: [sys.executable, "-c", "raise SystemExit(3)"])
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
