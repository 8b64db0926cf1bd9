"""`MetricsMiddleware`: pure ASGI; records each HTTP request's route template, status class and latency."""

from __future__ import annotations

import time

from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.metrics import Metrics


class MetricsMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        route = route_template(scope)
        status = 500
        started = time.perf_counter()

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            self.metrics.http_latency.labels(route).observe(time.perf_counter() - started)
            self.metrics.http_requests.labels(route, f"{status // 100}xx").inc()


def route_template(scope: Scope) -> str:
    """The matched route's path template, so label values stay bounded; unknown paths share one label."""
    for route in scope["app"].router.routes:
        match, _ = route.matches(scope)
        if match == Match.FULL:
            return str(route.path)
    return "unmatched"
