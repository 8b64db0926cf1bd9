"""`BodyGuardMiddleware`: pure ASGI; what a request body must be before anything parses it.

- `Content-Type` is JSON, or the answer is 415 (not a 422 about a dictionary).
- At most `max_body_bytes`: a larger `Content-Length` is refused before a byte is read, and a body streamed
  without one is refused as soon as it passes the limit (413, `param: body`).
- Arrays and objects nest at most `max_json_depth` deep (422), so no parser recursion is ever at risk.

The body, once read, is handed on unchanged. A client that disconnects mid-body gets no answer and costs nothing.
"""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.api.errors import error_response
from service.settings import RequestLimits

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)  # unrolled: linear time
_BRACKET = re.compile(rb"[\[\]{}]")


def json_depth(body: bytes) -> int:
    """How deep arrays and objects nest in `body` (brackets inside strings do not count)."""
    depth = deepest = 0
    for match in _BRACKET.finditer(_JSON_STRING.sub(b'""', body)):
        if match[0] in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def header_of(scope: Scope, name: bytes) -> str | None:
    """A request header's value (ASGI gives names in lower case)."""
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


def has_body(scope: Scope) -> bool:
    """The request declares a body: a non-zero `Content-Length`, or a `Transfer-Encoding`."""
    declared = header_of(scope, b"content-length")
    return (declared is not None and declared != "0") or header_of(scope, b"transfer-encoding") is not None


def is_json(content_type: str | None) -> bool:
    if content_type is None:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


class BodyGuardMiddleware:
    def __init__(self, app: ASGIApp, limits: RequestLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in BODY_METHODS:
            await self.app(scope, receive, send)
            return
        limit = self.limits.max_body_bytes
        if not has_body(scope):
            await self.app(scope, receive, send)  # no body (e.g. POST /admin/rubrics/reload)
            return
        declared = header_of(scope, b"content-length")
        if not is_json(header_of(scope, b"content-type")):
            given = header_of(scope, b"content-type") or "none"
            await error_response(415, f"the body must be JSON: send `Content-Type: application/json` (got "
                                 f"{given!r})", "unsupported_media_type", param="Content-Type")(scope, receive, send)
            return
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._too_large(scope, receive, send, int(declared))
            return
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client went away mid-body: nobody to answer
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await self._too_large(scope, receive, send, None)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        depth = json_depth(body)
        if depth > self.limits.max_json_depth:
            await error_response(422, f"the body nests arrays and objects {depth} deep, over this service's limit "
                                 f"of {self.limits.max_json_depth} (`max_json_depth`)", "invalid_request",
                                 param="body")(scope, receive, send)
            return
        await self.app(scope, _replay(body, receive), send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send, declared: int | None) -> None:
        size = f"{declared} bytes" if declared is not None else "the body"
        await error_response(413, f"{size} is over this service's limit of {self.limits.max_body_bytes} bytes per "
                             "request (`max_body_bytes`); split the batch", "payload_too_large",
                             param="body")(scope, receive, send)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that yields `body` once, then defers to the real one (which reports a disconnect)."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed
