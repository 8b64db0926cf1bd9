"""`ManagedEngine`: runs a vLLM OpenAI-compatible server as a supervised subprocess.

Started with the gateway, health-checked until ready, restarted with back-off if the process dies, stopped
with the gateway. What it runs is `service/engine/launch.py`'s (a pure function of the settings); how its
process group is ended, `group_ending.py`; what a slow start-up is reported as, `startup_diagnosis.py`. Start-up
reports progress every `PROGRESS_INTERVAL_S`, with the CPU share the engine got.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path

import httpx

from genrm_wire.ports import free_port
from service.engine.group_ending import die_with_parent, end_process_and_group
from service.engine.launch import EngineLaunch, EngineTarget, detect_device, engine_launch, engine_options
from service.engine.leftovers import end_leftover_engine, record_path, remove_record, write_record
from service.engine.startup_diagnosis import StartupDiagnosis, cpu_share
from service.engine.vllm_client import VLLMEngine
from service.settings import ManagedEngineSettings

logger = logging.getLogger(__name__)

POLL_INTERVAL_S = 1.0
PROGRESS_INTERVAL_S = 30.0
RESTART_BACKOFF_S = (1.0, 5.0, 15.0, 60.0)


class EngineState(enum.StrEnum):
    STARTING = "starting"
    READY = "ready"
    RESTARTING = "restarting"
    STOPPED = "stopped"
    FAILED = "failed"


class ManagedEngine:
    def __init__(
        self,
        name: str,
        served_model_name: str,
        model_path: Path,
        max_model_len: int,
        settings: ManagedEngineSettings,
        runtime_dir: Path,
        stand_in: Sequence[str] | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        """`stand_in` runs that command instead of vLLM, with the same supervision (tests use a small process).
        `host` is where the gateway reaches it: another node's address when it runs elsewhere (Ray)."""
        self.name = name
        self.served_model_name = served_model_name
        self.settings = settings
        self.options = engine_options(settings, detect_device() if settings.device == "auto" else settings.device)
        self.device = self.options.device
        self.port = settings.port or free_port()
        self.url = f"http://{host}:{self.port}"
        self.state = EngineState.STOPPED
        self.restarts = 0
        self.started_in_s: float | None = None
        self.cpu_binding = settings.cpu_threads_bind
        self._target = EngineTarget(model_path, served_model_name, max_model_len, self.port, runtime_dir)
        self._stand_in = list(stand_in) if stand_in is not None else None
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
    def _record(self) -> Path:
        return record_path(self._runtime_dir, self.name)

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def takes_per_request_seeds(self) -> bool:
        return self.options.takes_per_request_seeds

    def launch(self) -> EngineLaunch:
        """What runs: vLLM's command line and environment for this engine now (its cores may have been chosen)."""
        launch = engine_launch(self.settings, self.options, self._target, self.cpu_binding, os.environ)
        return EngineLaunch(self._stand_in, launch.env) if self._stand_in is not None else launch

    @property
    def _diagnosis(self) -> StartupDiagnosis:
        return StartupDiagnosis(self.cpu_binding, self.log_path, self.settings.startup_timeout_s)

    async def start(self) -> None:
        """Launch the process and supervise it in the background; `wait_ready` waits for it."""
        self._runtime_dir.mkdir(parents=True, exist_ok=True)
        await end_leftover_engine(self._record)  # what a killed owner of this engine left (service/engine/leftovers.py)
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
        remove_record(self._record)

    async def _launch(self, state: EngineState) -> None:
        self.state = state
        self._ready.clear()
        launch = self.launch()
        Path(launch.env["TMPDIR"]).mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self._process = await asyncio.create_subprocess_exec(
            *launch.argv, stdout=log, stderr=log, env=launch.env, start_new_session=True, preexec_fn=die_with_parent,
        )
        log.close()
        write_record(self._record, self._process.pid)
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
        share = cpu_share(self.pid, waited)
        logger.error("engine %s: not ready after %.0f s; killing it. %s", self.name, waited,
                     self._diagnosis.explain(share),
                     extra=self._event("engine_startup_timeout", timeout_s=self.settings.startup_timeout_s,
                                       cpu_share=share))
        self.state = EngineState.FAILED
        await self._terminate()
        return False

    def _report_progress(self, elapsed_s: float) -> None:
        share = cpu_share(self.pid, elapsed_s)
        starved = StartupDiagnosis.starved(share)
        logger.log(logging.WARNING if starved else logging.INFO,
                   "engine %s: still starting after %.0f s (CPU share %s, cores %s)%s", self.name, elapsed_s, share,
                   self.cpu_binding or "auto", "; " + self._diagnosis.explain(share) if starved else "",
                   extra=self._event("engine_still_starting", waited_s=round(elapsed_s), cpu_share=share,
                                     cpu_binding=self.cpu_binding, starved=starved))

    async def _terminate(self) -> None:
        if self._process is not None:
            await end_process_and_group(self._process)
