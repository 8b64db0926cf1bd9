"""The gateway's link to the Redis its replicas share, and what happens when Redis goes away.

Every call is bounded by `timeout_s`. A call that fails or times out marks Redis away for `retry_s`: until then
no call is tried (`SharedStateAway` at once, no timeout paid per request), and the callers use their local
state. The transitions are logged once each (warning when Redis goes away, info when it answers again) and
shown by `genrm_shared_state_up`; every call is counted in `genrm_shared_state_operations_total{operation,
result}` (ok, error, skipped). Never an error to a client: shared state only ever saves work.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import redis.asyncio as aioredis
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError

from service.metrics import Metrics
from service.settings import SharedStateSettings

log = logging.getLogger("genrm.shared_state")
SHARED_OPERATIONS = ("cache_get", "cache_put", "rate_charge", "rate_refund")
T = TypeVar("T")


class SharedStateAway(Exception):
    """Redis did not answer (now, or recently enough that it is not tried again yet)."""


class RedisLink:
    def __init__(self, settings: SharedStateSettings, metrics: Metrics,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self._redis = aioredis.Redis.from_url(settings.redis_url, socket_timeout=settings.timeout_s,
                                              socket_connect_timeout=settings.timeout_s, retry_on_timeout=False)
        self._metrics = metrics
        self._clock = clock
        self._away_until = 0.0
        self._up = True
        self._scripts: dict[str, AsyncScript] = {}
        metrics.shared_state_up.set(1)

    @property
    def where(self) -> str:
        """Host and port (or socket) of the Redis, never its password."""
        kwargs = self._redis.connection_pool.connection_kwargs
        return str(kwargs.get("path") or f"{kwargs.get('host')}:{kwargs.get('port')}")

    def key(self, *parts: str) -> str:
        return ":".join((self.settings.prefix, *parts))

    async def call(self, operation: str, action: Callable[[aioredis.Redis], Awaitable[T]]) -> T:
        """`action` on Redis, or `SharedStateAway` when Redis is away or fails now."""
        counted = self._metrics.shared_state_operations
        if self._clock() < self._away_until:
            counted.labels(operation, "skipped").inc()
            raise SharedStateAway(operation)
        try:
            result = await asyncio.wait_for(action(self._redis), self.settings.timeout_s)
        except (RedisError, OSError, TimeoutError) as error:
            counted.labels(operation, "error").inc()
            self._went_away(operation, error)
            raise SharedStateAway(operation) from error
        counted.labels(operation, "ok").inc()
        if not self._up:
            self._up = True
            self._metrics.shared_state_up.set(1)
            log.info("shared state: Redis at %s answers again; replicas share the judgment cache and rate limits",
                     self.where)
        return result

    def _went_away(self, operation: str, error: BaseException) -> None:
        self._away_until = self._clock() + self.settings.retry_s
        if self._up:
            self._up = False
            self._metrics.shared_state_up.set(0)
            log.warning("shared state: Redis at %s is away (%s on %s: %s); this replica uses its own judgment cache "
                        "and rate limits, trying Redis again every %g s", self.where, type(error).__name__,
                        operation, error or "timed out", self.settings.retry_s)

    async def script(self, operation: str, source: str, keys: list[str], args: list[Any]) -> Any:
        """A Lua script run atomically on Redis (by its digest, EVALSHA; loaded on first use)."""
        if source not in self._scripts:
            self._scripts[source] = self._redis.register_script(source)
        script = self._scripts[source]
        return await self.call(operation, lambda _: script(keys=keys, args=args))

    async def close(self) -> None:
        await self._redis.aclose()
