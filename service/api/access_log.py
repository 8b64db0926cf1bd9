"""`AccessLogMiddleware`: one structured line per HTTP request, with a request id the caller can follow.

`X-Request-ID` is taken from the request when it is a sane token (printable, at most 128 characters) and made
up otherwise; either way it is echoed on the response. A judging route adds what it judged (`note_judging`):
model, version, items and votes drawn. `key` is the caller's API key name (`anonymous` without keys).
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from dataclasses import asdict, dataclass

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.api.authentication import key_name_of
from service.api.metrics_middleware import route_template
from service.judging.context import JudgingContext

logger = logging.getLogger("genrm.access")

REQUEST_ID_HEADER = "x-request-id"
_SCOPE_KEY = "genrm.access"
_SANE_REQUEST_ID = re.compile(r"^[\x21-\x7e]{1,128}$")
# Polled every few seconds by probes and Prometheus: logged at debug level unless they fail.
QUIET_ROUTES = frozenset({"/metrics", "/healthz", "/readyz", "/prometheus/targets"})


@dataclass
class JudgingFacts:
    model: str | None = None
    version: str | None = None
    items: int | None = None
    votes: int | None = None


def note_judging(request: Request, context: JudgingContext, items: int) -> None:
    """What the route judged, for its access line (a no-op where the middleware is not installed)."""
    facts = request.scope.get(_SCOPE_KEY)
    if isinstance(facts, JudgingFacts):
        facts.model, facts.version, facts.items = context.model.name, context.model.version, items
        facts.votes = context.usage.votes


def request_id_of(headers: list[tuple[bytes, bytes]]) -> str:
    for name, value in headers:
        if name.lower() == REQUEST_ID_HEADER.encode():
            given = value.decode("latin-1")
            if _SANE_REQUEST_ID.match(given):
                return given
    return uuid.uuid4().hex


class AccessLogMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(scope["headers"])
        facts = JudgingFacts()
        scope[_SCOPE_KEY] = facts
        status = 500
        started = time.perf_counter()

        async def with_request_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message["headers"] = [*message.get("headers", []), (REQUEST_ID_HEADER.encode(), request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, with_request_id)
        finally:
            route = route_template(scope)
            quiet = route in QUIET_ROUTES and status < 400
            logger.log(
                logging.DEBUG if quiet else logging.INFO, "%s %s %s", scope["method"], scope["path"], status,
                extra={
                    "event": "access", "request_id": request_id, "method": scope["method"],
                    "route": route, "path": scope["path"], "status": status,
                    "latency_ms": round((time.perf_counter() - started) * 1000, 1), "key": key_name_of(scope),
                    **asdict(facts),
                },
            )
