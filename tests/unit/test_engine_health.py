"""How the engine pool reads health: an engine that is finishing requests stays in rotation when its /health
check is late (the check is also late when the gateway's own event loop stalls), a silent engine that fails its
checks has its work abandoned to another (unless its caller is gone), and an engine that accepts no connection
is skipped like a dead one.

The engines are fakes at the httpx transport boundary (`tests/fakes.py`); the real parts' versions are in
`tests/integration/test_live_hardening.py` (a hung engine) and `tests/integration/test_live_pool.py`."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from service.engine import pool as engine_pool
from service.engine.pool import EnginePool, PoolMember
from service.engine.requests import GenerationRequest, GenerationResult, SamplingParams
from service.engine.vllm_client import VLLMEngine
from service.metrics import Metrics
from tests.fakes import FakeVLLMTransport
from tests.waiting import until

REQUEST = GenerationRequest([1, 2, 3], 1, SamplingParams(temperature=1.0, top_p=1.0, max_tokens=8))


@pytest.fixture
def fake() -> Iterator[FakeVLLMTransport]:
    yield FakeVLLMTransport(lambda body: ["<answer>7</answer>"])


def pool_of(fake: FakeVLLMTransport, hosts: list[str]) -> EnginePool:
    client = httpx.AsyncClient(transport=fake)
    members = [PoolMember(f"judge/{n}", VLLMEngine(f"http://{host}", "judge", client), 4)
               for n, host in enumerate(hosts)]
    return EnginePool("judge", members, Metrics())


async def stuck_in_engine_a(fake: FakeVLLMTransport) -> tuple[EnginePool, asyncio.Task[GenerationResult]]:
    """Two engines and a request in engine-a, which answers neither it nor /health in time; engine-b answers."""
    never = asyncio.Event()

    async def a_hangs(body: dict[str, Any]) -> list[str]:
        if fake.hosts[-1] == "engine-a":
            await never.wait()
        return ["<answer>7</answer>"]

    fake.script = a_hangs
    pool = pool_of(fake, ["engine-a", "engine-b"])
    in_flight = asyncio.create_task(pool.generate(REQUEST))  # least outstanding, first by name: engine-a
    await until(lambda: pool.members[0].in_flight == 1, "the request is in engine-a")
    fake.late_health_hosts.add("engine-a")
    return pool, in_flight


async def test_an_engine_that_answers_requests_stays_in_rotation_while_its_health_check_is_late(
        fake: FakeVLLMTransport) -> None:
    released = asyncio.Event()

    async def slow_second(body: dict[str, Any]) -> list[str]:
        if len(fake.requests) > 1:
            await released.wait()
        return ["<answer>7</answer>"]

    fake.script = slow_second
    pool = pool_of(fake, ["engine-a"])
    [member] = pool.members
    await pool.generate(REQUEST)  # it just answered
    in_flight = asyncio.create_task(pool.generate(REQUEST))
    await until(lambda: member.in_flight == 1, "the second request is in the engine")
    fake.late_health_hosts.add("engine-a")
    for _ in range(engine_pool.HUNG_AFTER_FAILED_CHECKS + 1):
        await pool.check_health()
    assert member.failed_checks == engine_pool.HUNG_AFTER_FAILED_CHECKS + 1
    assert member.available and not in_flight.done()  # not abandoned, still routable
    released.set()
    assert (await in_flight).samples[0].text == "<answer>7</answer>"
    assert fake.cancelled == 0


async def test_a_silent_engine_failing_its_checks_is_abandoned_to_another(fake: FakeVLLMTransport,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine_pool, "HUNG_SILENCE_S", 0.0)  # this engine has answered nothing at all anyway
    pool, in_flight = await stuck_in_engine_a(fake)
    hung, other = pool.members
    await pool.check_health()
    assert not in_flight.done()  # one late check is not a hang
    await pool.check_health()
    result = await asyncio.wait_for(in_flight, 30)
    assert result.samples[0].text == "<answer>7</answer>"
    assert fake.hosts == ["engine-a", "engine-b"] and fake.cancelled == 1
    assert not hung.available and other.available


async def test_a_caller_cancelled_as_its_engine_is_abandoned_stays_cancelled_not_retried(
        fake: FakeVLLMTransport, monkeypatch: pytest.MonkeyPatch) -> None:
    """The abandoning and the caller's own cancellation (its client went, its deadline passed) land together:
    the caller's wins, and nothing is sent to another engine for a caller that is gone."""
    monkeypatch.setattr(engine_pool, "HUNG_SILENCE_S", 0.0)
    pool, in_flight = await stuck_in_engine_a(fake)
    for _ in range(engine_pool.HUNG_AFTER_FAILED_CHECKS):
        await pool.check_health()  # the last one abandons the request
    in_flight.cancel()  # before the request has seen its abandoning
    with pytest.raises(asyncio.CancelledError):
        await in_flight
    assert fake.hosts == ["engine-a"]


async def test_a_silent_engine_is_not_abandoned_before_its_silence_is_long(fake: FakeVLLMTransport) -> None:
    never = asyncio.Event()

    async def hangs(body: dict[str, Any]) -> list[str]:
        await never.wait()
        return []

    fake.script = hangs
    pool = pool_of(fake, ["engine-a", "engine-b"])
    hung = pool.members[0]
    hung.last_answer_at = time.monotonic()  # the state of an engine that answered a moment ago
    in_flight = asyncio.create_task(pool.generate(REQUEST))
    await until(lambda: hung.in_flight == 1, "the request is in engine-a")
    fake.late_health_hosts.add("engine-a")
    for _ in range(engine_pool.HUNG_AFTER_FAILED_CHECKS):
        await pool.check_health()
    assert not in_flight.done() and fake.cancelled == 0
    in_flight.cancel()


async def test_an_engine_that_accepts_no_connection_is_skipped_for_another(fake: FakeVLLMTransport) -> None:
    fake.unaccepting_hosts.add("engine-a")
    pool = pool_of(fake, ["engine-a", "engine-b"])
    result = await pool.generate(REQUEST)
    assert result.samples[0].text == "<answer>7</answer>" and fake.hosts == ["engine-b"]
    assert not pool.members[0].healthy
