"""Two gateway replicas sharing state through a real `redis-server` (tests/redis_server.py), each with its own
fake engine at the transport: one replica's judgment answers the other's repeat, a key's rate holds across both,
and Redis going away (the server stopped) degrades each replica to its own state with a metric and a log line,
never an error; Redis coming back is used again. The same two replicas without `shared_state` are the control."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from service.auth.api_keys import hash_key
from tests.api.conftest import gateway_transport
from tests.api.test_hardening_api import bearer
from tests.fakes import FakeVLLMTransport
from tests.redis_server import RedisServer, redis_server  # noqa: F401  (the fixture)
from tests.waiting import metric_value, until

KEY = "genrm_shared-key"
# 0.5 judgments/s, a bucket of 8: a second request of 6 right after a first would wait 8 s, whatever the machine.
KEYS = [{"name": "shared", "hash": hash_key(KEY), "scopes": ["judge"], "rate": 0.5, "burst": 8}]
SEEDED = {"task": "chat", "sampling": {"seed": 7}, "items": [{"prompt": "Say hi.", "response": "Hi!"}]}
SIX = {"task": "chat", "votes": 2, "items": [{"prompt": f"Q{n}", "response": "A"} for n in range(3)]}

Replica = tuple[httpx.AsyncClient, FakeVLLMTransport]


@asynccontextmanager
async def replicas(model_dir: Path, redis_url: str | None, **shared: Any) -> AsyncIterator[tuple[Replica, Replica]]:
    """Two gateways configured alike (with `shared_state` on `redis_url`, or without when None)."""
    service: dict[str, Any] = {"api_keys": KEYS}
    if redis_url is not None:
        service["shared_state"] = {"redis_url": redis_url, "prefix": "test", **shared}
    async with (
        gateway_transport(model_dir, service=service) as (transport_a, fake_a),
        gateway_transport(model_dir, service=service) as (transport_b, fake_b),
        httpx.AsyncClient(transport=transport_a, base_url="http://replica-a", headers=bearer(KEY)) as a,
        httpx.AsyncClient(transport=transport_b, base_url="http://replica-b", headers=bearer(KEY)) as b,
    ):
        yield (a, fake_a), (b, fake_b)


@pytest.fixture
def shared_redis(redis_server: RedisServer) -> RedisServer:  # noqa: F811
    redis_server.flush()
    return redis_server


async def _metric(replica: httpx.AsyncClient, name: str, **labels: str) -> float:
    return metric_value((await replica.get("/metrics")).text, name, **labels)


@pytest.mark.parametrize("shared", [True, False], ids=["with-redis", "without"])
async def test_one_replicas_judgment_answers_the_others_repeat(
    bundled_model_dir: Path, shared_redis: RedisServer, shared: bool
) -> None:
    async with replicas(bundled_model_dir, shared_redis.url if shared else None) as ((a, fake_a), (b, fake_b)):
        first = await a.post("/v1/score", json=SEEDED)
        repeat = await b.post("/v1/score", json=SEEDED)
        assert first.status_code == repeat.status_code == 200, (first.text, repeat.text)
        assert len(fake_a.requests) == 1
        (judged,) = repeat.json()["items"]
        if shared:
            assert judged["cached"] is True and fake_b.requests == []
            assert judged["score"] == first.json()["items"][0]["score"]
            assert await _metric(b, "genrm_cache_shared_hits_total", route="/v1/score") == 1
            assert await _metric(b, "genrm_cache_lookups_total", route="/v1/score", result="hit") == 1
        else:
            assert judged["cached"] is False and len(fake_b.requests) == 1


@pytest.mark.parametrize("shared", [True, False], ids=["with-redis", "without"])
async def test_a_keys_rate_holds_across_replicas(bundled_model_dir: Path, shared_redis: RedisServer,
                                                 shared: bool) -> None:
    async with replicas(bundled_model_dir, shared_redis.url if shared else None) as ((a, _), (b, _)):
        assert (await a.post("/v1/score", json=SIX)).status_code == 200
        second = await b.post("/v1/score", json=SIX)
    if shared:
        assert second.status_code == 429, second.text
        assert int(second.headers["Retry-After"]) >= 7  # 4 judgments short at 0.5/s
        assert second.json()["error"]["param"] == "Authorization"
    else:
        assert second.status_code == 200  # each replica's own bucket: the key gets twice its rate


async def test_redis_going_away_degrades_to_local_state_and_coming_back_is_used_again(
    bundled_model_dir: Path, shared_redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="genrm.shared_state")
    async with replicas(bundled_model_dir, shared_redis.url, retry_s=1) as ((a, fake_a), _):
        try:
            shared_redis.stop()
            seeded = await a.post("/v1/score", json=SEEDED)
            assert seeded.status_code == 200 and seeded.json()["items"][0]["status"] == "ok"
            assert (await a.post("/v1/score", json=SEEDED)).json()["items"][0]["cached"] is True  # the local LRU
            assert (await a.post("/v1/score", json=SIX)).status_code == 200  # the local bucket: 6 of 8
            assert await _metric(a, "genrm_shared_state_up") == 0
            # The key's quota asks first and finds Redis away; the cache then skips it until `retry_s` has passed.
            assert await _metric(a, "genrm_shared_state_operations_total", operation="rate_charge", result="error") >= 1
            assert await _metric(a, "genrm_shared_state_operations_total", operation="cache_get", result="skipped") + \
                await _metric(a, "genrm_shared_state_operations_total", operation="cache_get", result="error") >= 1
            away = [r for r in caplog.records if "is away" in r.getMessage()]
            assert len(away) == 1 and away[0].levelno == logging.WARNING
            assert "redis://" not in away[0].getMessage()  # where, never the URL (it may hold a password)
        finally:
            shared_redis.start()

        async def used_again() -> bool:
            await a.post("/v1/score", json={**SEEDED, "items": [{"prompt": "Again?", "response": "Yes."}]})
            return await _metric(a, "genrm_shared_state_up") == 1

        await until(used_again, "the replica to use Redis again once it answers")
        assert any("answers again" in r.getMessage() for r in caplog.records)
        assert await _metric(a, "genrm_shared_state_operations_total", operation="cache_put", result="ok") >= 1
