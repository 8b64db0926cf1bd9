"""Jobs: a judging request run in the background, one item per engine batch, polled for partial and final results.

A job holds its request's items as separate chunks (each the route's request with one item), runs up to
`concurrency` of them at a time through the route's own code under a `Caller` whose disconnect is the job's
cancellation, and keeps each finished item. A chunk refused for load (429 `Overloaded`, 503 `EngineUnavailable`)
waits its `retry_after` and tries again: a job queues where a synchronous request would be refused. Any other
error fails the job with that error, its `param` rewritten to name the field in the submitted request.

Jobs live in this gateway's memory: a restart loses them (docs/operations.md, "Jobs"). An idempotency key
(per API key) maps a retried submit to its first job while that job is kept (`keep_s` after it ends).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from genrm_wire import ErrorInfo
from genrm_wire.jobs import TERMINAL_STATES, JobItemOut, JobOut, JobRoute, JobState
from service.errors import (
    ClientClosedRequest,
    EngineUnavailable,
    InvalidRequest,
    NotFound,
    Overloaded,
    ServiceError,
    status_of,
)
from service.metrics import Metrics
from service.orchestration.rewarding import Caller

logger = logging.getLogger(__name__)
RETRY_WAIT_S = (0.5, 30.0)  # a refused chunk waits its retry_after, clamped to this range
Chunk = Callable[[Caller], Awaitable[Any]]  # runs one item through its route; returns the route's response model


@dataclass(frozen=True)
class JobLimits:
    max_jobs: int = 1000  # kept jobs, running or ended, across keys
    max_active: int = 64  # queued or running
    concurrency: int = 8  # a job's chunks in flight at once
    keep_s: float = 3600.0  # how long an ended job (and its idempotency key) stays readable
    max_wait_s: float = 60.0  # the longest long-poll


@dataclass
class Job:
    id: str
    route: JobRoute
    owner: str
    fingerprint: str
    idempotency_key: str | None
    items_total: int
    created_at: float
    state: JobState = "queued"
    items: list[JobItemOut] = field(default_factory=list)
    result: dict[str, Any] | None = None
    error: ErrorInfo | None = None
    finished_at: float | None = None
    cancelled: asyncio.Event = field(default_factory=asyncio.Event)
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    task: asyncio.Task[None] | None = None

    def view(self) -> JobOut:
        return JobOut(id=self.id, route=self.route, state=self.state, idempotency_key=self.idempotency_key,
                      items_total=self.items_total, items_done=len(self.items), items=list(self.items),
                      result=self.result, error=self.error, created_at=self.created_at,
                      finished_at=self.finished_at)

    @property
    def ended(self) -> bool:
        return self.state in TERMINAL_STATES

    async def notify(self) -> None:
        async with self.changed:
            self.changed.notify_all()


def fingerprint(route: str, request: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps([route, request], sort_keys=True, separators=(",", ":")).encode()).hexdigest()


class JobStore:
    """The gateway's jobs: created, found (only by the key that made them), awaited, cancelled, forgotten."""

    def __init__(self, limits: JobLimits, metrics: Metrics, clock: Callable[[], float] = time.time) -> None:
        self.limits, self._metrics, self._clock = limits, metrics, clock
        self._jobs: dict[str, Job] = {}
        self._by_key: dict[tuple[str, str], str] = {}

    def submit(self, owner: str, route: JobRoute, request: dict[str, Any], idempotency_key: str | None,
               chunks: Sequence[Chunk], merge: Callable[[list[Any]], dict[str, Any]],
               item_of: Callable[[Any], dict[str, Any]]) -> tuple[Job, bool]:
        """The job for this submit and whether it is new: a known idempotency key with the same request returns
        its job; with another request it is refused (422)."""
        self._forget_expired()
        printed = fingerprint(route, request)
        if idempotency_key is not None and (owner, idempotency_key) in self._by_key:
            job = self._jobs[self._by_key[(owner, idempotency_key)]]
            if job.fingerprint != printed:
                raise InvalidRequest(f"Idempotency-Key {idempotency_key!r} was used for job {job.id} with another "
                                     "request; send a new key for a new request", param="Idempotency-Key")
            return job, False
        active = sum(not job.ended for job in self._jobs.values())
        if active >= self.limits.max_active or len(self._jobs) >= self.limits.max_jobs:
            raise Overloaded(f"{active} jobs are queued or running and {len(self._jobs)} are kept (limits "
                             f"{self.limits.max_active} and {self.limits.max_jobs}); submit again later",
                             retry_after=5.0)
        job = Job(id="job_" + secrets.token_hex(12), route=route, owner=owner, fingerprint=printed,
                  idempotency_key=idempotency_key, items_total=len(chunks), created_at=self._clock())
        self._jobs[job.id] = job
        if idempotency_key is not None:
            self._by_key[(owner, idempotency_key)] = job.id
        self._metrics.jobs_active.inc()
        job.task = asyncio.create_task(self._run(job, chunks, merge, item_of))
        return job, True

    def get(self, owner: str, job_id: str) -> Job:
        job = self._jobs.get(job_id)
        if job is None or job.owner != owner:  # another key's job is as unknown as a made-up id
            raise NotFound(f"no job {job_id!r} for this API key (jobs are kept {self.limits.keep_s:.0f} s after they "
                           "end, and a gateway restart loses them)", param="job_id")
        return job

    async def wait(self, job: Job, seen: int, wait_s: float) -> None:
        """Return once more than `seen` items are done or the job has ended, or after `wait_s`."""
        def progressed() -> bool:
            return job.ended or len(job.items) > seen

        async with job.changed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(job.changed.wait_for(progressed), min(wait_s, self.limits.max_wait_s))

    async def cancel(self, job: Job) -> None:
        """Cancel a queued or running job (its engine work is cancelled); an ended job stays as it ended."""
        if job.ended:
            return
        job.cancelled.set()
        if job.task is not None:
            await asyncio.wait({job.task})

    async def close(self) -> None:
        """Shutdown: cancel every job still running (they are lost with the gateway)."""
        running = [job for job in self._jobs.values() if not job.ended]
        for job in running:
            job.cancelled.set()
        tasks = [job.task for job in running if job.task is not None]
        if tasks:
            await asyncio.wait(tasks, timeout=10)

    def _forget_expired(self) -> None:
        now = self._clock()
        for job in [job for job in self._jobs.values()
                    if job.finished_at is not None and now - job.finished_at > self.limits.keep_s]:
            del self._jobs[job.id]
            if job.idempotency_key is not None:
                self._by_key.pop((job.owner, job.idempotency_key), None)

    async def _run(self, job: Job, chunks: Sequence[Chunk], merge: Callable[[list[Any]], dict[str, Any]],
                   item_of: Callable[[Any], dict[str, Any]]) -> None:
        responses: list[Any] = [None] * len(chunks)
        slots = asyncio.Semaphore(self.limits.concurrency)

        async def cancelled() -> None:  # the job's "disconnect": its cancellation
            await job.cancelled.wait()

        caller = Caller(job.owner, cancelled)

        async def one(index: int) -> None:
            async with slots:
                if job.state == "queued":
                    job.state = "running"
                try:
                    responses[index] = await _until_admitted(chunks[index], caller, job.cancelled)
                except ServiceError as error:
                    error.param = chunk_param(error.param, index)
                    raise
            job.items.append(JobItemOut(index=index, item=item_of(responses[index])))
            await job.notify()

        try:
            await _all_or_first_error([one(index) for index in range(len(chunks))])
            job.result, job.state = merge(responses), "succeeded"
        except ClientClosedRequest:
            job.state = "cancelled"
        except ServiceError as error:
            job.state, job.error = "failed", _error_info(error)
        except Exception:  # a bug: the job fails as a synchronous request would answer 500
            logger.exception("job %s (%s) failed", job.id, job.route)
            job.state = "failed"
            job.error = ErrorInfo(message="internal error (logged by the gateway)", type="internal_error", code=500)
        finally:
            job.finished_at = self._clock()
            self._metrics.jobs_active.dec()
            self._metrics.jobs.labels(job.route, job.state).inc()
            await job.notify()


async def _until_admitted(chunk: Chunk, caller: Caller, cancelled: asyncio.Event) -> Any:
    """Run the chunk; while it is refused for load, wait its retry_after (or until the job is cancelled)."""
    while True:
        try:
            return await chunk(caller)
        except (Overloaded, EngineUnavailable) as busy:
            wait = min(max(busy.retry_after or 1.0, RETRY_WAIT_S[0]), RETRY_WAIT_S[1])
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(cancelled.wait(), wait)
            if cancelled.is_set():
                raise ClientClosedRequest("the job was cancelled") from busy


async def _all_or_first_error(work: list[Awaitable[None]]) -> None:
    """Run all; on the first error cancel the rest and raise it."""
    tasks = [asyncio.ensure_future(w) for w in work]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


_CHUNK_FIELD = re.compile(r"^(items|groups)\.0(\.|$)")


def chunk_param(param: str | None, index: int) -> str | None:
    """A chunk's error field as the submitted request names it: `items.0.x` of item 5 is `request.items.5.x`."""
    if param is None or param == "Idempotency-Key":
        return param
    return "request." + _CHUNK_FIELD.sub(lambda m: f"{m.group(1)}.{index}{m.group(2)}", param)


def _error_info(error: ServiceError) -> ErrorInfo:
    return ErrorInfo(message=error.message, type=error.code, param=error.param, code=status_of(error))
