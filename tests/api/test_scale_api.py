"""Engine pool, admission control, deadlines, dedup, cache and adaptive voting, vLLM faked at the transport."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from models.chat import ChatTemplate
from tests.fakes import pairwise_completion, pointwise_completion
from tests.waiting import metric_value

TWO_ENGINES = [{"kind": "external", "url": "http://engine-a:8000"}, {"kind": "external", "url": "http://engine-b:8000"}]


def item(n: int, prompt: str | None = None) -> dict[str, str]:
    return {"prompt": prompt or f"question {n}", "response": f"answer {n}"}


async def test_the_same_prompt_sticks_to_one_engine_and_different_prompts_spread(make_client) -> None:
    async with make_client(engines=TWO_ENGINES) as (client, fake):
        group = [item(n, prompt="one shared prompt") for n in range(6)]
        await client.post("/v1/score", json={"task": "chat", "items": group})
        shared_hosts = set(fake.hosts)
        fake.hosts.clear()
        await client.post("/v1/score", json={"task": "chat", "items": [item(n) for n in range(16)]})
    assert len(shared_hosts) == 1
    assert set(fake.hosts) == {"engine-a", "engine-b"}


async def test_a_failing_engine_is_retried_on_the_other(make_client) -> None:
    async with make_client(engines=TWO_ENGINES) as (client, fake):

        def engine_a_fails(_: dict[str, Any]) -> list[str] | httpx.Response:
            if fake.hosts[-1] == "engine-a":
                return httpx.Response(500, text="engine-a crashed")
            return [pointwise_completion("6")]

        fake.script = engine_a_fails
        response = await client.post("/v1/score", json={"task": "chat", "items": [item(n) for n in range(8)]})
        metrics = (await client.get("/metrics")).text
    assert response.status_code == 200
    assert [i["status"] for i in response.json()["items"]] == ["ok"] * 8
    assert "engine-a" in fake.hosts
    assert metric_value(metrics, "genrm_engine_retries_total", engine="fake-judge/0") >= 1  # from 0 at start


def aborted_completion(body: dict[str, Any], choices: int) -> httpx.Response:
    """What a vLLM server shutting down answers for the work it held: 200, each sample cut short and `abort`."""
    return httpx.Response(200, json={
        "choices": [{"index": i, "text": "<think>The response", "finish_reason": "abort"} for i in range(choices)],
        "usage": {"prompt_tokens": len(body["prompt"]), "completion_tokens": 3 * choices},
    })


@pytest.mark.parametrize("choices", ["all", "fewer"], ids=["every-sample-aborted", "fewer-samples-than-asked"])
async def test_an_engine_that_aborts_its_work_is_retried_on_the_other_not_taken_as_votes(make_client,
                                                                                        choices: str) -> None:
    async with make_client(engines=TWO_ENGINES) as (client, fake):

        def engine_a_aborts(body: dict[str, Any]) -> list[str] | httpx.Response:
            if fake.hosts[-1] == "engine-a":
                return aborted_completion(body, body["n"] if choices == "all" else body["n"] - 1)
            return [pointwise_completion("6")]

        fake.script = engine_a_aborts
        response = await client.post("/v1/score", json={"task": "chat", "votes": 2,
                                                        "items": [item(n) for n in range(8)]})
        metrics = (await client.get("/metrics")).text
    assert response.status_code == 200
    outcomes = response.json()["items"]
    assert [i["status"] for i in outcomes] == ["ok"] * 8 and all(i["scores"] == [6, 6] for i in outcomes)
    assert "engine-a" in fake.hosts  # it was asked, and its answer was not taken
    assert metric_value(metrics, "genrm_engine_retries_total", engine="fake-judge/0") >= 1


# What anyio 4.16 under httpcore 1.0.9 raised when an engine's server closed a connection it had just accepted
# (seen in the Ray kill test's gateway log), and what httpcore's cancellation races are known to raise.
UNNAMED_CLIENT_FAILURES = [AttributeError("'NoneType' object has no attribute 'getpeername'"),
                           RuntimeError("the connection pool is in a state it did not expect")]


@pytest.mark.parametrize("failure", UNNAMED_CLIENT_FAILURES, ids=lambda failure: type(failure).__name__)
async def test_an_http_client_failure_it_does_not_name_fails_that_engine_call_not_the_batch(
        make_client, caplog, failure: Exception) -> None:
    async with make_client(engines=TWO_ENGINES) as (client, fake):

        def engine_a_breaks_the_client(_: dict[str, Any]) -> list[str]:
            if fake.hosts[-1] == "engine-a":
                raise failure
            return [pointwise_completion("6")]

        fake.script = engine_a_breaks_the_client
        response = await client.post("/v1/score", json={"task": "chat", "items": [item(n) for n in range(8)]})
    assert response.status_code == 200
    assert [i["status"] for i in response.json()["items"]] == ["ok"] * 8
    logged = [r for r in caplog.records if getattr(r, "event", None) == "engine_client_failure"]
    assert logged and logged[0].exc_info is not None  # the traceback is kept for whoever fixes it


async def test_unreachable_engine_leaves_rotation_until_healthy_again(make_client) -> None:
    async with make_client(engines=TWO_ENGINES) as (client, fake):
        fake.unhealthy_hosts.add("engine-a")
        degraded = await client.get("/readyz")
        await client.post("/v1/score", json={"task": "chat", "items": [item(n) for n in range(6)]})
        fake.unhealthy_hosts.clear()
        ready = await client.get("/readyz")
    assert degraded.status_code == 200 and degraded.json()["status"] == "degraded"
    assert [e["state"] for e in degraded.json()["engines"]] == ["unhealthy", "ready"]
    assert set(fake.hosts) == {"engine-b"}
    assert ready.json()["status"] == "ready"


async def test_no_healthy_engine_is_503_with_retry_after(make_client) -> None:
    async with make_client(healthy=False) as (client, fake):
        await client.get("/readyz")
        response = await client.post("/v1/score", json={"task": "chat", "items": [item(1)]})
    assert response.status_code == 503
    assert response.json()["error"]["type"] == "engine_unavailable"
    assert int(response.headers["Retry-After"]) > 0
    assert fake.requests == []


async def test_overload_is_429_with_retry_after_and_admitted_work_completes(make_client) -> None:
    release = asyncio.Event()

    async def blocked(_: dict[str, Any]) -> list[str]:
        await release.wait()
        return [pointwise_completion("5")]

    engines = [{"kind": "external", "url": "http://fake-vllm:8000", "max_in_flight": 2}]
    async with make_client(blocked, engines=engines, max_queued_requests=2) as (client, fake):
        batch = {"task": "chat", "items": [item(n) for n in range(4)]}
        first = asyncio.create_task(client.post("/v1/score", json=batch))
        while len(fake.requests) < 2:
            await asyncio.sleep(0.01)
        refused = await client.post("/v1/score", json={"task": "chat", "items": [item(9)]})
        health = await client.get("/healthz")
        release.set()
        admitted = await first
    assert refused.status_code == 429
    assert refused.json()["error"]["type"] == "overloaded"
    assert int(refused.headers["Retry-After"]) >= 1
    assert health.status_code == 200
    assert [i["status"] for i in admitted.json()["items"]] == ["ok"] * 4


async def test_deadline_turns_late_items_into_timeouts_and_cancels_their_engine_work(make_client, decode) -> None:
    async def slow_for_some(body: dict[str, Any]) -> list[str]:
        if "SLOW" in decode(body):
            await asyncio.sleep(30)
        return [pointwise_completion("8")]

    async with make_client(slow_for_some) as (client, fake):
        by_field = await client.post("/v1/score", json={"task": "chat", "timeout_s": 0.5, "items": [
            item(1), item(2, prompt="SLOW please")]})
        by_header = await client.post("/v1/score", headers={"X-Request-Timeout": "0.5"},
                                      json={"task": "chat", "items": [item(3, prompt="SLOW too")]})
        bad_header = await client.post("/v1/score", headers={"X-Request-Timeout": "soon"},
                                       json={"task": "chat", "items": [item(4)]})
    fast, slow = by_field.json()["items"]
    assert fast["status"] == "ok"
    assert slow["status"] == "timeout" and "0.5 s" in slow["error"]["message"]
    assert by_header.json()["items"][0]["status"] == "timeout"
    assert fake.cancelled == 2
    assert bad_header.status_code == 422 and bad_header.json()["error"]["param"] == "header.X-Request-Timeout"


async def test_identical_items_in_a_batch_are_judged_once(make_client) -> None:
    async with make_client() as (client, fake):
        items = [{"id": "x", **item(1)}, {"id": "y", **item(1)}, {"id": "z", **item(2)}, {"id": "w", **item(1)}]
        response = await client.post("/v1/score", json={"task": "chat", "votes": 2, "items": items})
        no_dedup = await client.post("/v1/score", json={"task": "chat", "dedup": False, "items": items})
        metrics = (await client.get("/metrics")).text
    out = response.json()["items"]
    assert len(fake.requests) == 2 + 4
    assert [(i["id"], i["duplicate_of"]) for i in out] == [("x", None), ("y", "x"), ("z", None), ("w", "x")]
    assert out[1]["scores"] == out[0]["scores"]
    assert all(i["duplicate_of"] is None for i in no_dedup.json()["items"])
    assert 'genrm_deduplicated_items_total{route="/v1/score"} 2.0' in metrics


async def test_cache_answers_seeded_repeats_and_skips_unseeded_unless_asked(make_client) -> None:
    seeded = {"task": "chat", "votes": 2, "sampling": {"seed": 7}, "items": [item(1)]}
    async with make_client() as (client, fake):
        first = (await client.post("/v1/score", json=seeded)).json()["items"][0]
        again = (await client.post("/v1/score", json=seeded)).json()["items"][0]
        after_seeded = len(fake.requests)
        await client.post("/v1/score", json={"task": "chat", "items": [item(1)]})
        await client.post("/v1/score", json={"task": "chat", "items": [item(1)]})
        after_unseeded = len(fake.requests)
        await client.post("/v1/score", json={"task": "chat", "cache": True, "items": [item(5)]})
        opted = (await client.post("/v1/score", json={"task": "chat", "cache": True, "items": [item(5)]})).json()
        off = await client.post("/v1/score", json={**seeded, "cache": False})
        other_votes = await client.post("/v1/score", json={**seeded, "votes": 3})
        metrics = (await client.get("/metrics")).text
    assert (first["cached"], again["cached"]) == (False, True)
    assert again["scores"] == first["scores"] and again["id"] == "0"
    assert after_seeded == 1
    assert after_unseeded == 3
    assert opted["items"][0]["cached"] is True
    assert off.json()["items"][0]["cached"] is False
    assert other_votes.json()["items"][0]["cached"] is False
    assert 'genrm_cache_lookups_total{result="hit",route="/v1/score"} 2.0' in metrics


@pytest.fixture
def encoded(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every text the judge tokenizes during the test, in order."""
    texts: list[str] = []
    original_encode = ChatTemplate.encode
    monkeypatch.setattr(ChatTemplate, "encode", lambda self, text: texts.append(text) or original_encode(self, text))
    return texts


async def test_adaptive_pointwise_stops_when_votes_agree(make_client, decode, encoded: list[str]) -> None:
    def script(body: dict[str, Any]) -> list[str]:
        if "SPLIT" in decode(body):
            return [pointwise_completion("1"), pointwise_completion("9")]
        return [pointwise_completion("7")]

    adaptive = {"round_votes": 2, "max_stderr": 0.5}
    async with make_client(script) as (client, fake):
        response = await client.post("/v1/score", json={"task": "chat", "votes": 8, "adaptive": adaptive, "items": [
            {"id": "agree", **item(1)}, {"id": "split", **item(2, prompt="SPLIT")}]})
    agree, split = response.json()["items"]
    assert agree["votes_used"] == 2
    assert split["votes_used"] == 8
    assert sorted(body["n"] for body in fake.requests) == [2, 2, 2, 2, 2]
    assert len(encoded) == 2, "each item's prompt is rendered and tokenized once, however many rounds it takes"


async def test_adaptive_pairwise_stops_when_both_orders_agree(make_client, decode, encoded: list[str]) -> None:
    def script(body: dict[str, Any]) -> list[str]:
        text = decode(body)
        shown_first = text.split("<response_a>")[-1].split("</response_a>")[0]
        if "BIASED" in text:
            return [pairwise_completion("A")]
        return [pairwise_completion("A" if "GOOD" in shown_first else "B")]

    pairs = [{"id": "clear", "prompt": "p", "response_a": "GOOD", "response_b": "bad"},
             {"id": "biased", "prompt": "BIASED", "response_a": "x", "response_b": "y"}]
    async with make_client(script) as (client, _):
        response = await client.post("/v1/compare", json={
            "task": "chat", "votes": 4, "adaptive": {"round_votes": 1, "min_margin": 0.5}, "items": pairs})
    clear, biased = response.json()["items"]
    assert clear["votes_used"] == 2 and clear["preference"] == "A" and clear["consistent"] is True
    assert biased["votes_used"] == 8 and biased["consistent"] is False
    assert len(encoded) == 4, "one prompt per pair and order, however many rounds"
