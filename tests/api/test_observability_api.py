"""What an operator sees of each request: the request id, the JSON access line, the judge-integrity metrics, the
series declared at 0 before any traffic, and the engine targets Prometheus discovers."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from service.logs import JsonFormatter
from tests.api.conftest import AppFactory
from tests.fakes import pairwise_completion, pointwise_completion

ITEMS = [{"id": f"i{n}", "prompt": "What is 2+2?", "response": f"{n}"} for n in range(3)]
PAIRS = [{"id": f"p{n}", "prompt": "Say hi.", "response_a": "Hi!", "response_b": f"Hello {n}."} for n in range(3)]


async def samples(client: httpx.AsyncClient) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    text = (await client.get("/metrics")).text
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(found: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return found[(name, frozenset(labels.items()))]


async def test_a_given_request_id_is_echoed_and_a_missing_or_bad_one_is_made_up(make_client: AppFactory) -> None:
    async with make_client() as (client, _):
        given = await client.get("/healthz", headers={"X-Request-ID": "trainer-step-41/rollout-7"})
        assert given.headers["x-request-id"] == "trainer-step-41/rollout-7"
        made = [(await client.get("/healthz", headers=h)).headers["x-request-id"]
                for h in ({}, {"X-Request-ID": "x" * 200}, {"X-Request-ID": "has space"})]
        assert all(len(rid) == 32 for rid in made) and len(set(made)) == 3


async def test_each_request_gets_one_json_access_line_with_what_it_judged(
    make_client: AppFactory, caplog: pytest.LogCaptureFixture
) -> None:
    async with make_client() as (client, _):
        with caplog.at_level(logging.INFO, logger="genrm.access"):
            response = await client.post("/v1/score", json={"task": "chat", "votes": 3, "items": ITEMS},
                                         headers={"X-Request-ID": "req-1"})
            bad = await client.post("/v1/score", json={"task": "chat", "votes": 3, "items": []})
    assert response.status_code == 200 and bad.status_code == 422
    lines = [json.loads(JsonFormatter().format(r)) for r in caplog.records if r.name == "genrm.access"]
    assert len(lines) == 2
    ok, refused = lines
    assert {k: ok[k] for k in ("event", "request_id", "method", "route", "status", "model", "version", "items",
                               "votes")} == {
        "event": "access", "request_id": "req-1", "method": "POST", "route": "/v1/score", "status": 200,
        "model": "fake-judge", "version": "v-test", "items": 3, "votes": 9}
    assert ok["latency_ms"] > 0 and ok["level"] == "info" and ok["ts"].endswith("+00:00")
    assert (refused["status"], refused["items"], refused["model"]) == (422, None, None)


async def test_probe_routes_are_logged_only_at_debug(make_client: AppFactory, caplog: pytest.LogCaptureFixture) -> None:
    async with make_client() as (client, _):
        with caplog.at_level(logging.INFO, logger="genrm.access"):
            await client.get("/metrics")
            await client.get("/healthz")
    assert [r for r in caplog.records if r.name == "genrm.access"] == []


async def test_bounded_series_exist_at_zero_before_any_traffic(make_client: AppFactory) -> None:
    async with make_client() as (client, _):
        found = await samples(client)
    assert value(found, "genrm_model_info", model="fake-judge", version="v-test", constrained="true") == 1
    for reason in ("overloaded", "no_engine"):
        assert value(found, "genrm_rejected_requests_total", model="fake-judge", reason=reason) == 0
    assert value(found, "genrm_engine_restarts_total", model="fake-judge", engine="fake-judge/0") == 0
    assert value(found, "genrm_parse_failures_total", model="fake-judge", format="pairwise",
                 category="invalid_answer") == 0
    assert value(found, "genrm_items_total", route="/v1/groups", status="timeout") == 0


async def test_a_judge_that_always_picks_the_first_response_shows_as_position_bias(make_client: AppFactory) -> None:
    """The default fake always answers A, the response shown first: under position swap that is a vote for each
    side once, so every item is inconsistent and the first position wins every vote."""
    async with make_client() as (client, _):
        response = await client.post("/v1/compare", json={"task": "chat", "votes": 2, "items": PAIRS})
        assert response.status_code == 200
        assert all(item["consistent"] is False for item in response.json()["items"])
        found = await samples(client)
    labels = {"model": "fake-judge", "version": "v-test", "task": "chat"}
    assert value(found, "genrm_pairwise_votes_total", **labels, position="first") == 3 * 2 * 2
    assert ("genrm_pairwise_votes_total", frozenset({**labels, "position": "second"}.items())) not in found
    assert value(found, "genrm_compared_items_total", **labels, consistent="false") == 3
    assert value(found, "genrm_votes_total", route="/v1/compare", kind="drawn") == 12


async def test_a_consistent_judge_splits_the_positions_evenly(
    make_client: AppFactory, decode: Callable[[dict[str, Any]], str]
) -> None:
    def prefers_hi(body: dict[str, Any]) -> list[str]:
        prompt = decode(body)
        return [pairwise_completion("A" if prompt.index("Hi!") < prompt.index("Hello 0.") else "B")]

    async with make_client(script=prefers_hi) as (client, _):
        response = await client.post("/v1/compare", json={"task": "chat", "votes": 1, "items": PAIRS[:1]})
        assert response.status_code == 200
        assert response.json()["items"][0]["preference"] == "A"
        found = await samples(client)
    labels = {"model": "fake-judge", "version": "v-test", "task": "chat"}
    assert value(found, "genrm_pairwise_votes_total", **labels, position="first") == 1
    assert value(found, "genrm_pairwise_votes_total", **labels, position="second") == 1
    assert value(found, "genrm_compared_items_total", **labels, consistent="true") == 1


async def test_pointwise_scores_and_spread_are_histograms_per_task(make_client: AppFactory) -> None:
    async with make_client() as (client, _):
        await client.post("/v1/score", json={"task": "math", "votes": 2, "items": ITEMS})
        inline = {"id": "custom.brevity", "version": 1, "domain": "custom", "title": "Brevity check",
                  "description": "Short answers win.", "bands": [{"min": 0, "max": 10, "description": "any"}]}
        mine = await client.post("/v1/score", json={"task": "my_task", "votes": 2, "items": ITEMS[:1],
                                                    "rubrics": [inline]})
        assert mine.status_code == 200, mine.text
        found = await samples(client)
    math = {"model": "fake-judge", "version": "v-test", "task": "math"}
    assert value(found, "genrm_pointwise_score_count", **math) == 3
    assert value(found, "genrm_pointwise_score_sum", **math) == 21
    assert value(found, "genrm_pointwise_score_bucket", **math, le="6.0") == 0
    assert value(found, "genrm_pointwise_score_bucket", **math, le="7.0") == 3
    assert value(found, "genrm_pointwise_vote_spread_bucket", **math, le="0.0") == 3
    assert value(found, "genrm_pointwise_score_count", **{**math, "task": "other"}) == 1  # bounded: not my_task


async def test_adaptive_voting_draws_fewer_votes_than_requested(make_client: AppFactory) -> None:
    async with make_client() as (client, _):
        body = {"task": "chat", "votes": 8, "items": ITEMS, "adaptive": {"round_votes": 2, "max_stderr": 0.5}}
        response = await client.post("/v1/score", json=body)
        assert response.status_code == 200, response.text
        found = await samples(client)
    assert value(found, "genrm_votes_total", route="/v1/score", kind="requested") == 24
    assert value(found, "genrm_votes_total", route="/v1/score", kind="drawn") == 6


async def test_judgments_cut_off_by_the_token_budget_are_counted(make_client: AppFactory) -> None:
    def cut_off(body: dict[str, Any]) -> httpx.Response:
        choices = [{"index": 0, "text": pointwise_completion("5"), "finish_reason": "stop"},
                   {"index": 1, "text": "<think>and so on and so", "finish_reason": "length"}]
        return httpx.Response(200, json={"choices": choices[: body["n"]],
                                         "usage": {"prompt_tokens": 10, "completion_tokens": 20}})

    async with make_client(script=cut_off) as (client, _):
        await client.post("/v1/score", json={"task": "chat", "votes": 2, "items": ITEMS[:1]})
        found = await samples(client)
    assert value(found, "genrm_length_budget_hits_total", model="fake-judge", version="v-test",
                 format="pointwise") == 1
    assert value(found, "genrm_length_budget_hits_total", model="fake-judge", version="v-test",
                 format="pairwise") == 0


async def test_prometheus_discovers_each_engine_with_its_model_labels(make_client: AppFactory) -> None:
    engines = [{"kind": "external", "url": "http://fake-vllm:8000"}, {"kind": "external", "url": "https://gpu-2/v"}]
    async with make_client(engines=engines) as (client, _):
        targets = (await client.get("/prometheus/targets")).json()
    assert targets == [
        {"targets": ["fake-vllm:8000"], "labels": {"model": "fake-judge", "version": "v-test",
                                                   "engine": "fake-judge/0"}},
        {"targets": ["gpu-2:443"], "labels": {"model": "fake-judge", "version": "v-test", "engine": "fake-judge/1",
                                              "__scheme__": "https", "__metrics_path__": "/v/metrics"}},
    ]
