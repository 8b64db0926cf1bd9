"""Admission control: a bounded amount of engine work per model; past it, 429 with `Retry-After`.

A request is admitted whole or refused whole, so no item of an admitted batch is ever dropped for load. Its
cost is the number of engine requests it can have in flight at once (items × orders). The bound is what the
healthy engines hold in flight plus `max_queued` more; a request that alone exceeds it is admitted when nothing
else is running, since otherwise it could never run. With no healthy engine the answer is 503.

Fair share: work is admitted per tenant (the API key's name). While other tenants have work admitted, or were
refused in the last `WAITING_WINDOW_S`, a tenant may hold at most an equal share of the bound; past it, 429 even
when the bound has room. One trainer's burst therefore fills the model only while nobody else needs it, and as
its requests finish, the room goes to the tenant that was waiting.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager

from service.engine.pool import NO_ENGINE_RETRY_AFTER_S, EnginePool
from service.errors import EngineUnavailable, Overloaded
from service.metrics import Metrics

MAX_RETRY_AFTER_S = 60
WAITING_WINDOW_S = 10.0


class Admission:
    def __init__(self, model: str, pool: EnginePool, max_queued: int, metrics: Metrics) -> None:
        self.model = model
        self.pool = pool
        self.max_queued = max_queued
        self.pending = 0
        self.by_tenant: dict[str, int] = {}
        self._refused_at: dict[str, float] = {}
        self._metrics = metrics

    def fair_share(self, tenant: str, limit: int) -> int:
        """An equal share of `limit` among the tenants with work admitted or lately refused, `tenant` counted."""
        now = time.monotonic()
        self._refused_at = {name: at for name, at in self._refused_at.items() if now - at < WAITING_WINDOW_S}
        active = set(self.by_tenant) | set(self._refused_at) | {tenant}
        return max(1, limit // len(active))

    @contextmanager
    def admit(self, cost: int, tenant: str = "anonymous") -> Iterator[None]:
        if not self.pool.any_available():
            self._metrics.rejected.labels(self.model, "no_engine").inc()
            raise EngineUnavailable(
                f"no engine of model {self.model!r} is ready (starting, restarting or unhealthy); retry shortly",
                retry_after=NO_ENGINE_RETRY_AFTER_S,
            )
        limit = self.pool.capacity + self.max_queued
        if self.pending > 0 and self.pending + cost > limit:
            self._refused_at[tenant] = time.monotonic()
            self._metrics.rejected.labels(self.model, "overloaded").inc()
            raise Overloaded(
                f"model {self.model!r} has {self.pending} engine requests admitted, and this request adds {cost} "
                f"over the limit of {limit}; retry after the Retry-After seconds, or send smaller batches",
                retry_after=self._retry_after(self.pending + cost - limit),
            )
        held = self.by_tenant.get(tenant, 0)
        share = self.fair_share(tenant, limit)
        if held > 0 and held + cost > share:
            self._metrics.rejected.labels(self.model, "fair_share").inc()
            raise Overloaded(
                f"{tenant!r} holds {held} of model {self.model!r}'s {limit} admitted engine requests and this "
                f"request adds {cost}, over its fair share of {share} while other callers wait; retry after the "
                "Retry-After seconds",
                retry_after=self._retry_after(held + cost - share),
            )
        self.pending += cost
        self.by_tenant[tenant] = held + cost
        self._metrics.admitted.labels(self.model).set(self.pending)
        try:
            yield
        finally:
            self.pending -= cost
            self.by_tenant[tenant] -= cost
            if not self.by_tenant[tenant]:
                del self.by_tenant[tenant]
            self._metrics.admitted.labels(self.model).set(self.pending)

    def _retry_after(self, excess: int) -> float:
        """About how long until `excess` engine requests' worth of work has drained."""
        waves = math.ceil(excess / max(self.pool.capacity, 1))
        return float(min(MAX_RETRY_AFTER_S, max(1, math.ceil(waves * self.pool.latency_ewma_s))))
