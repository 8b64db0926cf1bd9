"""Cancel a request's work when its client disconnects.

The route's work runs as a task beside a watcher, `disconnected()`, that returns when the caller has gone (the
HTTP layer reads the ASGI channel, whose next message after the body is `http.disconnect`). When it comes
first, the work is cancelled. That cancels every
item's engine request, and vLLM aborts a request whose HTTP client goes away. The pattern is vLLM's
`with_cancellation`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from service.errors import ClientClosedRequest
from service.metrics import Metrics

ResultT = TypeVar("ResultT")


Disconnected = Callable[[], Awaitable[None]]  # returns once the caller has gone


async def cancel_on_disconnect(
    disconnected: Disconnected, work: Coroutine[Any, Any, ResultT], metrics: Metrics, route: str
) -> ResultT:
    task = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(disconnected())
    try:
        done, _ = await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        watcher.cancel()
    if task in done:
        return task.result()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    metrics.cancelled.labels(route).inc()
    raise ClientClosedRequest("the client disconnected; its queued and running engine work was cancelled")
