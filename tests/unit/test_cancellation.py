"""`cancel_on_disconnect` cancels the work when the client goes away, and only then."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from service.api.cancellation import cancel_on_disconnect
from service.errors import ClientClosedRequest
from service.metrics import Metrics


class ChannelStub:
    """Stands in for a Starlette Request: `receive()` yields `http.disconnect` once `disconnect` is set."""

    def __init__(self) -> None:
        self.disconnect = asyncio.Event()

    async def receive(self) -> dict[str, Any]:
        await self.disconnect.wait()
        return {"type": "http.disconnect"}


async def test_work_that_finishes_returns_its_result() -> None:
    async def work() -> str:
        return "done"

    assert await cancel_on_disconnect(ChannelStub(), work(), Metrics(), "/r") == "done"  # type: ignore[arg-type]


async def test_a_disconnect_cancels_the_work_and_is_counted() -> None:
    channel, metrics, cancelled = ChannelStub(), Metrics(), asyncio.Event()

    async def work() -> str:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return "never"

    asyncio.get_running_loop().call_later(0.05, channel.disconnect.set)
    with pytest.raises(ClientClosedRequest):
        await cancel_on_disconnect(channel, work(), metrics, "/v1/score")  # type: ignore[arg-type]
    assert cancelled.is_set()
    assert metrics.cancelled.labels("/v1/score")._value.get() == 1
