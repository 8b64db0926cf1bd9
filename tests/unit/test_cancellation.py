"""`cancel_on_disconnect` cancels the work when the client goes away, and only then."""

from __future__ import annotations

import asyncio

import pytest

from service.errors import ClientClosedRequest
from service.metrics import Metrics
from service.orchestration.cancellation import cancel_on_disconnect


class Caller:
    """The caller's side: `gone()` returns once `disconnect` is set (the HTTP layer reads the ASGI channel)."""

    def __init__(self) -> None:
        self.disconnect = asyncio.Event()

    async def gone(self) -> None:
        await self.disconnect.wait()


async def test_work_that_finishes_returns_its_result() -> None:
    async def work() -> str:
        return "done"

    assert await cancel_on_disconnect(Caller().gone, work(), Metrics(), "/r") == "done"


async def test_a_disconnect_cancels_the_work_and_is_counted() -> None:
    caller, metrics, cancelled = Caller(), Metrics(), asyncio.Event()

    async def work() -> str:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return "never"

    asyncio.get_running_loop().call_later(0.05, caller.disconnect.set)
    with pytest.raises(ClientClosedRequest):
        await cancel_on_disconnect(caller.gone, work(), metrics, "/v1/score")
    assert cancelled.is_set()
    assert metrics.cancelled.labels("/v1/score")._value.get() == 1
