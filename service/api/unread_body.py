"""`UnreadBodyMiddleware`: a request answered before its body was read still has its body read, and thrown away.

HTTP/1.1 clients such as `urllib`, `requests` and `aiohttp` send the whole body before they read the answer. A
server that answers early (401, 413, 415, 503 …) and closes leaves unread bytes in its socket, the kernel resets
the connection, and the client sees `Broken pipe` or `Connection reset` instead of the error that names the fix.
So before an early answer starts, the rest of the body is received and discarded, up to
`max_discarded_body_bytes` and `discard_deadline_s`; past either bound the answer says `Connection: close` and
the cost to the server stops there. A client that sent `Expect: 100-continue` (curl, for large bodies) has sent
nothing yet: it gets the answer at once, and no body is read.
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.api.body_guard import has_body, header_of
from service.settings import RequestLimits


class UnreadBodyMiddleware:
    def __init__(self, app: ASGIApp, limits: RequestLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] != "http" or not has_body(scope)
                or (header_of(scope, b"expect") or "").lower() == "100-continue"):
            await self.app(scope, receive, send)
            return
        done = False  # the body's last chunk has been received, or the client went away

        async def tracked_receive() -> Message:
            nonlocal done
            message = await receive()
            done = done or message["type"] == "http.disconnect" or not message.get("more_body", False)
            return message

        async def discard_then_send(message: Message) -> None:
            nonlocal done
            if message["type"] == "http.response.start" and not done:
                done = await self._discard(tracked_receive)
                if not done:
                    message = {**message, "headers": [*message.get("headers", []), (b"connection", b"close")]}
            await send(message)

        await self.app(scope, tracked_receive, discard_then_send)

    async def _discard(self, receive: Receive) -> bool:
        """Read the body's rest within the bounds; whether it all came (or the client left)."""
        discarded = 0
        try:
            async with asyncio.timeout(self.limits.discard_deadline_s):
                while discarded <= self.limits.max_discarded_body_bytes:
                    message = await receive()
                    if message["type"] == "http.disconnect" or not message.get("more_body", False):
                        return True
                    discarded += len(message.get("body", b""))
        except TimeoutError:
            pass
        return False
