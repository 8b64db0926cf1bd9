"""`JudgeEngine`: one vLLM engine of a judge as a Ray actor.

The engine starts on the first `endpoint()` call, and again on the first call after Ray restarts the actor (its
constructor runs again, on whatever node holds its bundle then), so the gateway's question "where are you?" is
also what brings it up. It is a `ManagedEngine`, as under `python -m service`: the same command line, forced-ending
processor, supervision and restarts of a crashed vLLM; its process dies with the actor. It listens on its node's
address, which the gateway reaches it at. On a CPU engine without `cpu_threads_bind`, engine i of a node-sharing
test is pinned to core i modulo the cores (two CPU engines on one core starve each other).

An actor killed outright (`ray.kill`, the OOM killer) cannot stop its engine: vLLM's server gets SIGTERM from
the kernel as its parent dies, but its EngineCore and workers outlive it. The next incarnation on that node ends
what is left of it before starting, as any managed engine's next owner does (service/engine/leftovers.py).
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path

import ray

from models.bundled import prepare_bundled_model
from service.engine.supervisor import ManagedEngine
from service.ray_serving.spec import node_address
from service.settings import JudgeModelSettings, ManagedEngineSettings


@dataclass(frozen=True)
class EngineEndpoint:
    url: str
    node_id: str
    per_request_seed: bool
    pid: int  # the actor's
    engine_group: int  # the vLLM server's process group


class JudgeEngine:
    def __init__(self, index: int, model_json: str, cache_dir: str) -> None:
        self._index = index
        self._model = JudgeModelSettings.model_validate_json(model_json)
        self._cache_dir = Path(cache_dir)
        self._engine: ManagedEngine | None = None
        self._starting = asyncio.Lock()

    async def endpoint(self) -> EngineEndpoint:
        """Where this engine answers, once it is ready (started now if it is not running)."""
        async with self._starting:
            if self._engine is None:
                self._engine = await self._start()
        await self._engine.wait_ready()
        assert self._engine.pid is not None, "started"
        return EngineEndpoint(self._engine.url, ray.get_runtime_context().get_node_id(),
                              self._engine.takes_per_request_seeds, os.getpid(), self._engine.pid)

    async def stop(self) -> None:
        if self._engine is not None:
            await self._engine.stop()
            self._engine = None

    async def _start(self) -> ManagedEngine:
        template = self._model.engines[0]
        assert isinstance(template, ManagedEngineSettings), "RayJudgeSpec checks this"
        host = node_address()
        update: dict[str, object] = {"bind_host": host, "port": 0}
        if template.device != "cuda" and template.cpu_threads_bind is None and not ray.get_gpu_ids():
            update["cpu_threads_bind"] = str(self._index % (os.cpu_count() or 1))
        settings = template.model_copy(update=update)
        model_path = self._model.model_path
        if model_path is None:
            model_path = await asyncio.to_thread(prepare_bundled_model, self._cache_dir / "models")
        name = f"{self._model.name}/{self._index}"
        engine = ManagedEngine(name, self._model.name, model_path, self._model.max_model_len, settings,
                               self._cache_dir / "run" / "ray", host=host)
        await engine.start()
        return engine
