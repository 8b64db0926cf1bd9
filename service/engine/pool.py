"""`EnginePool`: several engines serving one judge model, behind one `generate`.

Routing: least outstanding work, with prefix affinity. A request with an `affinity_key` goes to the engine that
rendezvous hashing prefers for that key, unless that engine has `AFFINITY_SLACK` more outstanding requests than
the least-loaded one, in which case it goes to the least-loaded. The same prompt's votes, swapped orders and a
group's rollouts therefore land where their prefix is cached, and a hot key cannot pile onto one engine.

Each engine holds at most `max_in_flight` requests; the rest wait for a slot. A background loop checks every
engine's health, and a sick engine is taken out of rotation until it answers again. A request whose engine fails
(unreachable, connection dropped, 5xx, garbage) is retried on another engine; the caller's deadline bounds the
retries because cancelling the caller cancels them. Read timeouts are not retried: another engine would be as slow.

A hung engine (it accepted requests and answers nothing, /health included) fails `HUNG_AFTER_FAILED_CHECKS`
health checks in a row and has answered no request for `HUNG_SILENCE_S`; then its in-flight requests are
abandoned and retried on another engine, and it stays out of rotation until /health answers again. A slow
engine that still answers /health, or still finishes requests, is left to finish.

An engine that finished a request within `ANSWERED_RECENTLY_S` counts as healthy even when its /health check
timed out: a check is also late when this process's own event loop stalls (a long pause on a loaded host), and
an engine that is demonstrably answering must not drop out of rotation, or have its work abandoned, for that.
A dead engine is caught anyway: its requests fail at once and mark it unhealthy.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from service.engine.requests import GenerationRequest, GenerationResult
from service.engine.supervisor import EngineState, ManagedEngine
from service.engine.vllm_client import VLLMEngine
from service.errors import EngineServerError, EngineUnavailable
from service.metrics import Metrics

logger = logging.getLogger(__name__)

AFFINITY_SLACK = 4
EWMA_WEIGHT = 0.2
HEALTH_INTERVAL_S = 2.0
NO_ENGINE_RETRY_AFTER_S = 5.0
HUNG_AFTER_FAILED_CHECKS = 2
HUNG_SILENCE_S = 10.0
ANSWERED_RECENTLY_S = 10.0


@dataclass
class PoolMember:
    name: str
    engine: VLLMEngine
    max_in_flight: int
    managed: ManagedEngine | None = None
    healthy: bool = True
    outstanding: int = 0
    in_flight: int = 0
    failures: int = 0
    failed_checks: int = 0
    last_answer_at: float = float("-inf")  # monotonic: the last request this engine finished
    slots: asyncio.Semaphore = field(init=False)
    attempts: set[asyncio.Task[object]] = field(default_factory=set)
    abandoned: set[asyncio.Task[object]] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.slots = asyncio.Semaphore(self.max_in_flight)

    def abandon_in_flight(self) -> int:
        """Cancel every request in flight here; their callers retry them elsewhere (`_run_on`)."""
        for attempt in self.attempts:
            self.abandoned.add(attempt)
            attempt.cancel()
        return len(self.attempts)

    def silent_for(self) -> float:
        return time.monotonic() - self.last_answer_at

    @property
    def hung(self) -> bool:
        return (self.failed_checks >= HUNG_AFTER_FAILED_CHECKS and bool(self.attempts)
                and self.silent_for() >= HUNG_SILENCE_S)

    @property
    def available(self) -> bool:
        return self.healthy and (self.managed is None or self.managed.state == EngineState.READY)

    @property
    def state(self) -> str:
        if self.managed is not None and self.managed.state != EngineState.READY:
            return self.managed.state.value
        return "ready" if self.healthy else "unhealthy"


class EnginePool:
    def __init__(self, model: str, members: Sequence[PoolMember], metrics: Metrics) -> None:
        if not members:
            raise ValueError(f"model {model!r} needs at least one engine")
        self.model = model
        self.members = list(members)
        self._metrics = metrics
        self._health_task: asyncio.Task[None] | None = None
        self._restarts_seen = {member.name: 0 for member in self.members}
        # Recent engine-request latency; admission control derives Retry-After from it.
        self.latency_ewma_s = 1.0

    def repoint(self, name: str, base_url: str) -> bool:
        """Engine `name` now answers at `base_url` (restarted elsewhere: a Ray actor on another node or port): it
        is out of rotation until a health check finds it there, and the move is logged. False when it was
        already there."""
        member = next(member for member in self.members if member.name == name)
        if member.engine.base_url == base_url.rstrip("/"):
            return False
        member.engine = member.engine.moved_to(base_url)
        member.healthy = False
        member.failed_checks = 0
        member.last_answer_at = float("-inf")
        logger.info("engine %s now at %s", name, base_url,
                    extra={"event": "engine_moved", "engine": name, "model": self.model, "url": base_url})
        return True

    @property
    def capacity(self) -> int:
        return sum(member.max_in_flight for member in self.members if member.available)

    def any_available(self) -> bool:
        return any(member.available for member in self.members)

    async def generate(self, request: GenerationRequest) -> GenerationResult:
        tried: set[str] = set()
        while True:
            member = self.choose(request.affinity_key, exclude=tried)
            try:
                return await self._run_on(member, request)
            except (EngineUnavailable, EngineServerError) as error:  # unreachable, dropped, or 5xx: try another
                tried.add(member.name)
                member.failures += 1
                if isinstance(error, EngineUnavailable):
                    member.healthy = False
                    member.last_answer_at = float("-inf")  # what it answered before no longer vouches for it
                self._metrics.engine_retries.labels(self.model, member.name).inc()
                logger.warning("engine %s failed (%s); retrying elsewhere", member.name, error.message,
                               extra={"event": "engine_request_retried", "engine": member.name, "model": self.model})
                if not any(m.available and m.name not in tried for m in self.members):
                    raise

    def choose(self, affinity_key: str | None, exclude: set[str] | frozenset[str] = frozenset()) -> PoolMember:
        candidates = [m for m in self.members if m.available and m.name not in exclude]
        if not candidates:
            raise EngineUnavailable(
                f"no healthy engine for model {self.model!r} (states: "
                f"{', '.join(f'{m.name}={m.state}' for m in self.members)}); retry shortly",
                retry_after=NO_ENGINE_RETRY_AFTER_S,
            )
        least = min(candidates, key=lambda m: (m.outstanding, m.name))
        if affinity_key is None:
            return least
        preferred = max(candidates, key=lambda m: _rendezvous(affinity_key, m.name))
        return preferred if preferred.outstanding - least.outstanding <= AFFINITY_SLACK else least

    async def _run_on(self, member: PoolMember, request: GenerationRequest) -> GenerationResult:
        member.outstanding += 1
        self._publish_load(member)
        try:
            async with member.slots:
                member.in_flight += 1
                self._publish_load(member)
                started = time.perf_counter()
                attempt = asyncio.current_task()
                assert attempt is not None
                member.attempts.add(attempt)
                try:
                    result = await member.engine.generate(request)
                except asyncio.CancelledError:
                    # The caller was cancelled (deadline, disconnect), alone or as well as the abandoning: so is
                    # its engine request. Only when the abandoning alone cancelled it is it retried elsewhere.
                    if attempt not in member.abandoned or attempt.uncancel() > 0:
                        raise
                    raise EngineUnavailable(f"engine {member.name} stopped answering (hung); retried elsewhere",
                                            retry_after=NO_ENGINE_RETRY_AFTER_S) from None
                finally:
                    member.in_flight -= 1
                    member.attempts.discard(attempt)
                    member.abandoned.discard(attempt)
                elapsed = time.perf_counter() - started
                member.last_answer_at = time.monotonic()
                self._metrics.engine_latency.labels(self.model, member.name).observe(elapsed)
                self.latency_ewma_s += EWMA_WEIGHT * (elapsed - self.latency_ewma_s)
                return result
        finally:
            member.outstanding -= 1
            self._publish_load(member)

    def _publish_load(self, member: PoolMember) -> None:
        self._metrics.engine_in_flight.labels(self.model, member.name).set(member.in_flight)
        waiting = sum(m.outstanding - m.in_flight for m in self.members)
        self._metrics.queue_depth.labels(self.model).set(waiting)

    async def check_health(self) -> None:
        answers = await asyncio.gather(*(member.engine.healthy() for member in self.members))
        for member, checked in zip(self.members, answers, strict=True):
            member.failed_checks = 0 if checked else member.failed_checks + 1
            answer = checked or member.silent_for() < ANSWERED_RECENTLY_S
            if member.hung:
                abandoned = member.abandon_in_flight()
                logger.warning("engine %s failed %d health checks in a row and answered nothing for %.0f s with %d "
                               "requests in flight; abandoning them to other engines", member.name,
                               member.failed_checks, member.silent_for(), abandoned,
                               extra={"event": "engine_hung", "engine": member.name, "model": self.model,
                                      "abandoned": abandoned})
            if answer != member.healthy:
                logger.info("engine %s is %s", member.name, "healthy again" if answer else "unhealthy",
                            extra={"event": "engine_healthy" if answer else "engine_unhealthy", "engine": member.name,
                                   "model": self.model})
            member.healthy = answer
            self._metrics.engine_up.labels(self.model, member.name).set(1 if member.available else 0)
            if member.managed is not None and member.managed.restarts > self._restarts_seen[member.name]:
                new = member.managed.restarts - self._restarts_seen[member.name]
                self._metrics.engine_restarts.labels(self.model, member.name).inc(new)
                self._restarts_seen[member.name] = member.managed.restarts

    def start_health_checks(self) -> None:
        self._health_task = asyncio.create_task(self._health_loop(), name=f"health-{self.model}")

    async def stop_health_checks(self) -> None:
        if self._health_task is not None:
            self._health_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._health_task

    async def _health_loop(self) -> None:
        while True:
            await self.check_health()
            await asyncio.sleep(HEALTH_INTERVAL_S)


def _rendezvous(key: str, member: str) -> int:
    return int.from_bytes(hashlib.blake2b(f"{key}|{member}".encode(), digest_size=8).digest(), "big")
