"""Every client mistake is a 4xx with the one JSON envelope naming the field; engine trouble is 5xx."""

from __future__ import annotations

import pytest

ITEM = {"prompt": "hi", "response": "hello"}


def assert_envelope(response, status: int, error_type: str, param: str | None) -> dict:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert (error["type"], error["param"], error["code"]) == (error_type, param, status)
    assert error["message"]
    return error


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"items": [ITEM]}, "task"),
        ({"task": "chat", "items": []}, "items"),
        ({"task": "chat", "items": [{"prompt": "hi"}]}, "items.0.response"),
        ({"task": "chat", "items": [{"prompt": [], "response": "x"}]}, "items.0"),
        ({"task": "chat", "items": [{"prompt": [{"role": "robot", "content": "x"}], "response": "x"}]},
         "items.0.prompt.str"),
        ({"task": "chat", "items": [ITEM], "votes": 0}, "votes"),
        ({"task": "chat", "items": [ITEM], "aggregate": "median"}, "aggregate"),
        ({"task": "chat", "items": [ITEM], "sampling": {"temperature": -1}}, "sampling.temperature"),
        ({"task": "chat", "items": [ITEM], "typo_field": 1}, "typo_field"),
        ({"task": "Chat!", "items": [ITEM]}, "task"),
        ({"task": "chat", "items": [ITEM], "rubric_ids": ["chat.usefulness"], "rubrics": [{}]}, "rubrics.0.id"),
    ],
)
async def test_schema_errors_name_the_field(make_client, body, param) -> None:
    async with make_client() as (client, fake):
        response = await client.post("/v1/score", json=body)
    assert_envelope(response, 422, "invalid_request", param)
    assert fake.requests == []


async def test_semantic_errors(make_client) -> None:
    async with make_client() as (client, _):
        unknown_task = await client.post("/v1/score", json={"task": "poetry", "items": [ITEM]})
        unknown_model = await client.post("/v1/score", json={"task": "chat", "model": "gpt-9", "items": [ITEM]})
        unknown_rubric = await client.post(
            "/v1/score", json={"task": "chat", "rubric_ids": ["chat.usefulness", "chat.nope"], "items": [ITEM]})
        bad_reference = await client.post("/v1/score", json={"task": "chat", "rubric_ids": ["a@b@c"], "items": [ITEM]})
        too_short = await client.post(
            "/v1/score", json={"task": "chat", "items": [ITEM], "sampling": {"max_tokens": 20}})
        greedy_votes = await client.post(
            "/v1/score", json={"task": "chat", "items": [ITEM], "votes": 2, "sampling": {"temperature": 0}})
        too_many_items = await client.post("/v1/score", json={"task": "chat", "items": [ITEM] * 17})
        too_many_votes = await client.post("/v1/compare", json={
            "task": "chat", "votes": 9, "items": [{"prompt": "p", "response_a": "a", "response_b": "b"}]})
        not_json = await client.post("/v1/score", content=b"{not json", headers={"content-type": "application/json"})
        no_route = await client.get("/v1/nothing")
        wrong_method = await client.get("/v1/score")
    assert "creative_writing" in assert_envelope(unknown_task, 422, "invalid_request", "task")["message"]
    assert_envelope(unknown_model, 404, "not_found", "model")
    assert_envelope(unknown_rubric, 404, "not_found", "rubric_ids.1")
    assert_envelope(bad_reference, 422, "invalid_request", "rubric_ids")
    assert "at least" in assert_envelope(too_short, 422, "invalid_request", "sampling.max_tokens")["message"]
    assert "greedy" in assert_envelope(greedy_votes, 422, "invalid_request", "votes")["message"]
    assert_envelope(too_many_items, 413, "payload_too_large", "items")
    assert_envelope(too_many_votes, 413, "payload_too_large", "votes")
    assert_envelope(not_json, 422, "invalid_request", "body")
    assert_envelope(no_route, 404, "not_found", None)
    assert_envelope(wrong_method, 405, "method_not_allowed", None)


async def test_a_model_without_the_format_is_refused(make_client) -> None:
    async with make_client(formats=["pointwise"]) as (client, _):
        response = await client.post(
            "/v1/compare", json={"task": "chat", "items": [{"prompt": "p", "response_a": "a", "response_b": "b"}]})
    assert "pairwise" in assert_envelope(response, 422, "invalid_request", "model")["message"]


async def test_an_unhealthy_engine_makes_readyz_503(make_client) -> None:
    async with make_client(healthy=False) as (client, _):
        ready = await client.get("/readyz")
        alive = await client.get("/healthz")
    assert alive.status_code == 200
    assert ready.status_code == 503
    assert ready.json()["status"] == "not_ready"
    assert ready.json()["engines"] == [{"model": "fake-judge", "engine": "fake-judge/0", "state": "unhealthy",
                                        "in_flight": 0, "queued": 0, "failures": 0, "restarts": None}]


async def test_metrics_count_requests_by_route_and_status_class(make_client) -> None:
    async with make_client() as (client, _):
        await client.post("/v1/score", json={"task": "chat", "items": [ITEM]})
        await client.post("/v1/score", json={"task": "nope", "items": [ITEM]})
        text = (await client.get("/metrics")).text
    assert 'genrm_http_requests_total{route="/v1/score",status_class="2xx"} 1.0' in text
    assert 'genrm_http_requests_total{route="/v1/score",status_class="4xx"} 1.0' in text
    assert 'genrm_items_total{route="/v1/score",status="ok"} 1.0' in text
    assert 'genrm_judgments_total{format="pointwise",model="fake-judge",outcome="ok"} 1.0' in text
    assert "genrm_engine_request_duration_seconds_bucket" in text
    assert 'genrm_tokens_total{kind="prompt",model="fake-judge"}' in text


async def test_rubrics_and_models_are_listed(make_client) -> None:
    async with make_client() as (client, _):
        rubrics = (await client.get("/v1/rubrics")).json()
        models = (await client.get("/v1/models")).json()
    assert set(rubrics["domains"]) == {"chat", "math", "code", "safety", "instruction_following", "creative_writing",
                                       "agent"}
    assert {"key": "chat.usefulness@1"}.items() <= rubrics["rubrics"][0].items() or any(
        r["key"] == "chat.usefulness@1" for r in rubrics["rubrics"])
    assert models["default"] == "fake-judge"
    assert models["models"][0]["version"] == "v-test"


async def test_a_bug_is_a_500_in_the_envelope_and_counted(make_client, monkeypatch) -> None:
    import service.judging.scoring

    def bug(*_: object, **__: object) -> None:
        raise RuntimeError("a bug in the gateway's own code")

    monkeypatch.setattr(service.judging.scoring, "_aggregate_item", bug)
    async with make_client() as (client, _):
        response = await client.post("/v1/score", json={"task": "chat", "items": [ITEM]})
        metrics = (await client.get("/metrics")).text
    error = assert_envelope(response, 500, "internal_error", None)
    assert "bug" in error["message"] and "RuntimeError" not in error["message"]
    assert 'genrm_http_requests_total{route="/v1/score",status_class="5xx"} 1.0' in metrics


async def test_a_malformed_engine_answer_is_an_item_engine_error(make_client) -> None:
    import httpx

    async with make_client(lambda _: httpx.Response(200, json={"choices": "nonsense"})) as (client, _):
        response = await client.post("/v1/score", json={"task": "chat", "items": [ITEM]})
    item = response.json()["items"][0]
    assert response.status_code == 200
    assert item["status"] == "engine_error" and "unexpected completion payload" in item["error"]["message"]


async def test_a_seed_is_refused_by_name_when_an_engine_cannot_take_one(make_client) -> None:
    engines = [{"kind": "external", "url": "http://fake-vllm:8000", "per_request_seed": False}]
    async with make_client(engines=engines) as (client, fake):
        seeded = await client.post("/v1/score", json={"task": "chat", "items": [ITEM], "sampling": {"seed": 3}})
        unseeded = await client.post("/v1/score", json={"task": "chat", "items": [ITEM]})
    assert "per-request seeds" in assert_envelope(seeded, 422, "invalid_request", "sampling.seed")["message"]
    assert unseeded.status_code == 200 and len(fake.requests) == 1
