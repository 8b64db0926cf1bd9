"""`JudgeGateway`: the gateway in a Ray actor, with the engine actors it owns.

`start` reserves one placement-group bundle per engine (the spec's GPUs, fraction or custom resources, spread as
it says), creates the engine actors in them (`max_restarts=-1`: Ray restarts a dead one), asks each where it
answers, and serves the same app as `python -m service` on this node with those engines as its pool. No URL is
configured anywhere: the engines are found through Ray.

Then one watcher per engine asks its actor where it is every `check_interval_s`. An engine actor that died is
restarted by Ray (in its bundle; a bundle whose node is gone is rescheduled on a node with the resources) and
answers from a new address, which the pool is repointed to (`EnginePool.repoint`); meanwhile the pool's own
health checks keep the dead engine out of rotation and its in-flight requests are retried on the others, so no
request is lost while another engine is up. An actor Ray will not restart is replaced by a new one.

`shutdown` stops the gateway, the engines and the placement group; so does killing this actor (the engine actors
are owned by it and die with it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import ray
import uvicorn
from ray.util.placement_group import PlacementGroup, placement_group, remove_placement_group
from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

from genrm_wire.ports import free_port
from genrm_wire.ray_names import engine_actor_name
from service.app import create_app
from service.engine.pool import EnginePool
from service.ray_serving.engine_actor import EngineEndpoint, JudgeEngine
from service.ray_serving.spec import RayJudgeSpec, node_address
from service.settings import Settings, load_settings

log = logging.getLogger("genrm.ray")


class JudgeGateway:
    def __init__(self) -> None:
        self._spec: RayJudgeSpec | None = None
        self._url: str | None = None
        self._group: PlacementGroup | None = None
        self._engines: list[Any] = []  # actor handles
        self._endpoints: list[EngineEndpoint] = []
        self._server: uvicorn.Server | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._pool: EnginePool | None = None
        self._starting = asyncio.Lock()

    async def start(self, spec_json: str, cache_dir: str) -> str:
        """Start everything (once; a second call returns the same URL) and return the gateway's URL."""
        async with self._starting:
            if self._url is None:
                self._url = await self._start(RayJudgeSpec.model_validate_json(spec_json), cache_dir)
        return self._url

    async def url(self) -> str | None:
        return self._url

    async def engines(self) -> list[dict[str, Any]]:
        """Each engine: its pool name, where it answers, its node and process (what the tests and operators ask)."""
        assert self._pool is not None, "started"
        return [{"name": member.name, "url": member.engine.base_url, "healthy": member.healthy,
                 "node_id": endpoint.node_id, "pid": endpoint.pid, "engine_group": endpoint.engine_group,
                 "actor": handle}
                for member, endpoint, handle in zip(self._pool.members, self._endpoints, self._engines, strict=True)]

    async def shutdown(self) -> None:
        for task in self._tasks:
            task.cancel()
        if self._server is not None:
            self._server.should_exit = True
        for handle in self._engines:
            with contextlib.suppress(ray.exceptions.RayActorError):
                await handle.stop.remote()
            ray.kill(handle, no_restart=True)
        if self._group is not None:
            remove_placement_group(self._group)

    async def _start(self, spec: RayJudgeSpec, cache_dir: str) -> str:
        self._spec = spec
        host = node_address()
        port = spec.gateway_port or free_port()
        self._settings(host, port, cache_dir, ["http://engine.not-placed-yet:1"] * spec.engines)  # fail before placing
        self._group = placement_group([spec.bundle() for _ in range(spec.engines)], strategy=spec.placement,
                                      name=f"judge-engines:{spec.model.name}")
        await self._group.ready()
        self._engines = [self._engine_actor(index, cache_dir) for index in range(spec.engines)]
        self._endpoints = list(await asyncio.gather(*(handle.endpoint.remote() for handle in self._engines)))
        app = create_app(self._settings(host, port, cache_dir, [endpoint.url for endpoint in self._endpoints]))
        self._server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning",
                                                     lifespan="on"))
        self._tasks.append(asyncio.create_task(self._server.serve()))
        while not self._server.started:
            if self._tasks[0].done():
                self._tasks[0].result()  # raises why it stopped
            await asyncio.sleep(0.05)
        self._pool = app.state.genrm.registry.get(spec.model.name).engine
        self._tasks += [asyncio.create_task(self._watch(index, cache_dir)) for index in range(spec.engines)]
        log.info("judge %s: gateway at http://%s:%d with %d engines", spec.model.name, host, port, spec.engines)
        return f"http://{host}:{port}"

    def _engine_actor(self, index: int, cache_dir: str) -> Any:
        spec = self._spec
        assert spec is not None and self._group is not None
        actor = ray.remote(JudgeEngine).options(
            name=engine_actor_name(spec.model.name, index), get_if_exists=True, max_restarts=-1, max_task_retries=-1,
            num_cpus=spec.cpus_per_engine, num_gpus=spec.gpus_per_engine,
            resources=spec.resources_per_engine or None, max_concurrency=16,
            scheduling_strategy=PlacementGroupSchedulingStrategy(self._group, placement_group_bundle_index=index),
        )
        return actor.remote(index, spec.model.model_dump_json(), cache_dir)

    def _settings(self, host: str, port: int, cache_dir: str, engine_urls: list[str]) -> Settings:
        """The gateway's settings: the spec's `service` ones, serving the judge with its engines at `engine_urls`.
        They run our launcher, so the forced ending is written in the engine (as for managed engines)."""
        spec = self._spec
        assert spec is not None
        seeds = [endpoint.per_request_seed for endpoint in self._endpoints] or [True] * len(engine_urls)
        engines = [{"kind": "external", "url": url, "per_request_seed": seed,
                    "max_in_flight": spec.engine_template.max_in_flight}
                   for url, seed in zip(engine_urls, seeds, strict=True)]
        model = spec.model.model_dump(mode="json", exclude={"engines", "gpus"})
        forced = "in_engine" if spec.model.constrained and spec.model.forced_ending == "auto" else \
            spec.model.forced_ending
        served = {**model, "engines": engines, "forced_ending": forced}
        return load_settings(**{**spec.service, "host": host, "port": port, "cache_dir": cache_dir,
                                "models": [served]})

    async def _watch(self, index: int, cache_dir: str) -> None:
        """Follow engine `index`: repoint the pool when it answers elsewhere; replace an actor Ray gave up on."""
        spec, pool = self._spec, self._pool
        assert spec is not None and pool is not None
        name = pool.members[index].name
        while True:
            try:
                endpoint: EngineEndpoint = await self._engines[index].endpoint.remote()
            except ray.exceptions.ActorDiedError:
                log.warning("engine %s: its actor is gone for good; starting a new one", name)
                self._engines[index] = self._engine_actor(index, cache_dir)
                continue
            except ray.exceptions.RayActorError as error:  # restarting, or its node went away: ask again
                log.info("engine %s: actor unavailable (%s); asking again", name, type(error).__name__)
                await asyncio.sleep(spec.check_interval_s)
                continue
            except Exception:  # an engine that failed to start: Ray restarts the actor or the next ask retries it
                log.exception("engine %s: asking where it is failed; asking again", name)
                await asyncio.sleep(spec.check_interval_s)
                continue
            self._endpoints[index] = endpoint
            pool.repoint(name, endpoint.url)  # logs the move
            await asyncio.sleep(spec.check_interval_s)
