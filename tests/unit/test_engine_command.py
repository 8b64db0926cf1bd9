"""The managed engine's vLLM command line: chunked prefill and per-request seeds (no engine is started)."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.engine.supervisor import ManagedEngine
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
