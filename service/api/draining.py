"""Graceful drain: on SIGTERM the gateway stops admitting, finishes what it accepted, then stops.

`Drain` counts the HTTP requests in flight; `DrainMiddleware` answers new requests with 503 and `Retry-After`
once draining began (the probes and /metrics still answer, and /readyz says `draining`, so a load balancer takes
the gateway out). The server (service/__main__.py) exits when nothing is in flight or `drain_grace_s` is over,
and its shutdown then stops the engines. Nothing accepted is dropped unless the grace period runs out.
"""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Receive, Scope, Send

from service.api.errors import error_response

logger = logging.getLogger(__name__)

DRAIN_RETRY_AFTER_S = 5.0
STILL_ANSWERED = frozenset({"/healthz", "/readyz", "/metrics", "/prometheus/targets"})


class Drain:
    def __init__(self, grace_s: float) -> None:
        self.grace_s = grace_s
        self.in_flight = 0
        self.draining = False
        self._deadline = 0.0

    def begin(self) -> None:
        if self.draining:
            return
        self.draining = True
        self._deadline = time.monotonic() + self.grace_s
        logger.info("draining: %d requests in flight, %.0f s to finish them", self.in_flight, self.grace_s,
                    extra={"event": "drain_started", "in_flight": self.in_flight, "grace_s": self.grace_s})

    def finished(self) -> bool:
        if not self.draining:
            return False
        if self.in_flight == 0:
            logger.info("drained: nothing in flight", extra={"event": "drained"})
            return True
        if time.monotonic() >= self._deadline:
            logger.warning("drain grace period over with %d requests in flight", self.in_flight,
                           extra={"event": "drain_timed_out", "in_flight": self.in_flight})
            return True
        return False


class DrainMiddleware:
    def __init__(self, app: ASGIApp, drain: Drain) -> None:
        self.app = app
        self.drain = drain

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in STILL_ANSWERED:
            await self.app(scope, receive, send)
            return
        if self.drain.draining:
            await error_response(503, "this gateway is shutting down and admits no new work; retry (another "
                                 "replica, or this one once it is back)", "draining",
                                 retry_after=DRAIN_RETRY_AFTER_S)(scope, receive, send)
            return
        self.drain.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.drain.in_flight -= 1
