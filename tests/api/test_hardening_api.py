"""Hardening on the in-process gateway (the fake engine under it): API keys and scopes, per-key rate limits,
body and field limits, strict types, unique ids, rubric hot reload, drain, and engines that answer garbage."""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest

from genrm_client import JudgeClient
from service.auth.api_keys import hash_key
from service.auth.quota import Quotas
from service.settings import load_settings
from tests.api.conftest import AppFactory, default_script
from tests.conftest import ROOT
from tests.waiting import until

TRAINER, OPERATOR, SLOW = "genrm_trainer-key", "genrm_operator-key", "genrm_slow-key"
KEYS = [
    {"name": "trainer", "hash": hash_key(TRAINER), "scopes": ["judge"]},
    {"name": "operator", "hash": hash_key(OPERATOR), "scopes": ["judge", "admin"]},
    {"name": "slow", "hash": hash_key(SLOW), "scopes": ["judge"], "rate": 4, "burst": 8},
]
SCORE = {"task": "chat", "items": [{"prompt": "Hi", "response": "Hello!"}]}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def error_of(response: httpx.Response) -> dict[str, Any]:
    error: dict[str, Any] = response.json()["error"]
    return error


async def test_without_a_key_judging_is_401_and_the_probes_stay_open(make_client: AppFactory) -> None:
    async with make_client(service={"api_keys": KEYS}) as (gateway, _):
        refused = await gateway.post("/v1/score", json=SCORE)
        wrong = await gateway.post("/v1/score", json=SCORE, headers=bearer("genrm_guess"))
        assert (refused.status_code, wrong.status_code) == (401, 401)
        assert refused.headers["WWW-Authenticate"] == "Bearer"
        assert error_of(refused)["param"] == "Authorization" and "Bearer" in error_of(refused)["message"]
        assert "not valid" in error_of(wrong)["message"]
        for open_route in ("/healthz", "/readyz", "/metrics", "/openapi.json"):
            assert (await gateway.get(open_route)).status_code == 200, open_route
        assert (await gateway.get("/v1/models")).status_code == 401
        metrics = (await gateway.get("/metrics")).text
        assert 'genrm_auth_refusals_total{reason="missing"} 2.0' in metrics  # /v1/score and /v1/models
        assert 'genrm_auth_refusals_total{reason="invalid"} 1.0' in metrics


async def test_a_key_works_as_bearer_header_or_query_and_its_name_labels_the_metrics(
    make_client: AppFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="genrm.access")
    async with make_client(service={"api_keys": KEYS}) as (gateway, _):
        for headers, params in ((bearer(TRAINER), {}), ({"X-API-Key": TRAINER}, {}), ({}, {"api_key": TRAINER})):
            answer = await gateway.post("/v1/score", json=SCORE, headers=headers, params=params)
            assert answer.status_code == 200, answer.text
        metrics = (await gateway.get("/metrics")).text
    assert 'genrm_key_judgments_total{key="trainer"} 3.0' in metrics
    assert [r.key for r in caplog.records if getattr(r, "route", None) == "/v1/score"] == ["trainer"] * 3  # type: ignore[attr-defined]
    assert TRAINER not in metrics and all(TRAINER not in record.getMessage() and TRAINER not in str(record.__dict__)
                                          for record in caplog.records)


async def test_admin_routes_need_the_admin_scope(make_client: AppFactory) -> None:
    async with make_client(service={"api_keys": KEYS}) as (gateway, _):
        forbidden = await gateway.post("/admin/rubrics/reload", headers=bearer(TRAINER))
        assert forbidden.status_code == 403 and "`admin` scope" in error_of(forbidden)["message"]
        assert (await gateway.post("/admin/rubrics/reload", headers=bearer(OPERATOR))).status_code == 200


async def test_metrics_can_be_protected(make_client: AppFactory) -> None:
    async with make_client(service={"api_keys": KEYS, "protect_metrics": True}) as (gateway, _):
        assert (await gateway.get("/metrics")).status_code == 401
        assert (await gateway.get("/metrics", headers=bearer(TRAINER))).status_code == 200
        assert (await gateway.get("/readyz")).status_code == 200


async def test_the_client_sends_its_key(make_client: AppFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    async with make_client(service={"api_keys": KEYS}) as (gateway, _):
        monkeypatch.setenv("GENRM_API_KEY", TRAINER)
        from_env = JudgeClient("http://gateway")
        assert from_env._http.headers["Authorization"] == f"Bearer {TRAINER}"
        answer = await gateway.get("/v1/models", headers=dict(from_env._http.headers))
        from_env.close()
        assert answer.status_code == 200


class ManualClock:
    """A clock the test moves: the quota's refill is shown by advancing it, not by sleeping."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_over_its_rate_a_key_gets_429_with_retry_after_from_its_bucket(make_client: AppFactory) -> None:
    """`slow`: 4 judgments/s, bucket of 8. 6 judgments pass, the next 6 would need 4 more: ~1 s, not a constant;
    another key is not slowed by it; a second later (on the quota's clock) the bucket has refilled."""
    six = {"task": "chat", "votes": 2, "items": [{"prompt": f"Q{n}", "response": "A"} for n in range(3)]}
    clock = ManualClock()
    async with make_client(service={"api_keys": KEYS}) as (gateway, _):
        state = gateway._transport.app.state.genrm  # type: ignore[attr-defined]
        state.quotas = Quotas(load_settings(api_keys=KEYS).api_keys, state.metrics, clock)
        assert (await gateway.post("/v1/score", json=six, headers=bearer(SLOW))).status_code == 200
        limited = await gateway.post("/v1/score", json=six, headers=bearer(SLOW))
        assert limited.status_code == 429 and error_of(limited)["param"] == "Authorization"
        assert limited.headers["Retry-After"] == "1"
        assert "4 judgments per second" in error_of(limited)["message"]
        assert (await gateway.post("/v1/score", json=six, headers=bearer(TRAINER))).status_code == 200
        clock.now += 0.9  # 3.6 judgments back: not yet enough
        assert (await gateway.post("/v1/score", json=six, headers=bearer(SLOW))).status_code == 429
        clock.now += 0.1
        assert (await gateway.post("/v1/score", json=six, headers=bearer(SLOW))).status_code == 200
        metrics = (await gateway.get("/metrics")).text
    assert 'genrm_rate_limited_requests_total{key="slow"} 2.0' in metrics


@pytest.mark.parametrize(("body", "field"), [
    ({**SCORE, "votes": "2"}, "votes"), ({**SCORE, "votes": True}, "votes"), ({**SCORE, "votes": 2.0}, "votes"),
    ({"task": "chat", "swap": "yes", "items": [{"prompt": "Hi", "response_a": "A", "response_b": "B"}]}, "swap"),
    ({**SCORE, "include_judgments": 1}, "include_judgments"),
])
async def test_lax_types_are_refused_naming_the_field(make_client: AppFactory, body: dict[str, Any],
                                                      field: str) -> None:
    route = "/v1/compare" if "swap" in body else "/v1/score"
    async with make_client() as (gateway, fake):
        answer = await gateway.post(route, json=body)
    assert answer.status_code == 422 and error_of(answer)["param"] == field
    assert fake.requests == []


async def test_a_body_that_is_not_json_is_415(make_client: AppFactory) -> None:
    async with make_client() as (gateway, _):
        form = await gateway.post("/v1/score", data={"task": "chat"})
        text = await gateway.post("/v1/score", content=json.dumps(SCORE), headers={"Content-Type": "text/plain"})
    for answer in (form, text):
        assert answer.status_code == 415 and error_of(answer)["param"] == "Content-Type"
        assert "application/json" in error_of(answer)["message"]


async def test_body_size_is_capped_before_parsing_whether_declared_or_streamed(make_client: AppFactory) -> None:
    big = json.dumps({"task": "chat", "items": [{"prompt": "x" * 3000, "response": "y"}]}).encode()

    async def streamed() -> Any:
        for start in range(0, len(big), 512):
            yield big[start:start + 512]

    async with make_client(service={"limits": {"max_body_bytes": 2048}}) as (gateway, fake):
        declared = await gateway.post("/v1/score", content=big, headers={"Content-Type": "application/json"})
        chunked = await gateway.post("/v1/score", content=streamed(), headers={"Content-Type": "application/json"})
    for answer in (declared, chunked):
        assert answer.status_code == 413 and error_of(answer)["param"] == "body"
        assert "2048 bytes" in error_of(answer)["message"] and "max_body_bytes" in error_of(answer)["message"]
    assert fake.requests == []


async def test_deep_nesting_is_refused_before_any_parser_recurses(make_client: AppFactory) -> None:
    deep = '{"task": "chat", "items": ' + "[" * 5000 + "]" * 5000 + "}"
    async with make_client() as (gateway, _):
        answer = await gateway.post("/v1/score", content=deep, headers={"Content-Type": "application/json"})
    assert answer.status_code == 422 and "max_json_depth" in error_of(answer)["message"]


async def test_text_and_token_limits_name_the_field_and_the_setting(make_client: AppFactory) -> None:
    limits = {"max_text_chars": 100, "max_request_chars": 250, "max_generated_tokens": 1000}
    long_item = {"task": "chat", "items": [{"prompt": "Hi", "response": "y" * 101}]}
    many = {"task": "chat", "items": [{"prompt": "p" * 50, "response": "r" * 50}] * 3}
    costly = {"task": "chat", "votes": 4, "items": [{"prompt": "Hi", "response": "A"}] * 2,
              "sampling": {"max_tokens": 160}}
    async with make_client(service={"limits": limits}) as (gateway, fake):
        text, total, tokens = [await gateway.post("/v1/score", json=body) for body in (long_item, many, costly)]
    assert (text.status_code, error_of(text)["param"]) == (413, "items.0.response")
    assert "max_text_chars" in error_of(text)["message"]
    assert (total.status_code, error_of(total)["param"]) == (413, "body")
    assert "max_request_chars" in error_of(total)["message"]
    assert (tokens.status_code, error_of(tokens)["param"]) == (413, "sampling.max_tokens")
    assert "1280 tokens" in error_of(tokens)["message"]  # 2 items × 4 votes × 160
    assert fake.requests == []


async def test_duplicate_item_ids_are_refused(make_client: AppFactory) -> None:
    body = {"task": "chat", "items": [{"id": "a", "prompt": "Hi", "response": "A"},
                                      {"id": "b", "prompt": "Hi", "response": "B"},
                                      {"id": "a", "prompt": "Hi", "response": "C"}]}
    async with make_client() as (gateway, _):
        answer = await gateway.post("/v1/score", json=body)
        both = await gateway.post("/v1/score", json={**SCORE, "rubric_ids": None, "rubrics": None})
    assert answer.status_code == 422 and error_of(answer)["param"] == "items.2.id"
    assert "items.0" in error_of(answer)["message"]
    assert both.status_code == 422  # the schema says: never both keys


async def test_an_engine_that_answers_garbage_fails_its_items_not_the_request(make_client: AppFactory) -> None:
    garbage = [httpx.Response(200, content=b"<html>oops</html>"), httpx.Response(200, json={"choices": "?"})]

    async def script(body: dict[str, Any]) -> Any:
        return garbage.pop() if garbage else default_script(body)

    two = {"task": "chat", "items": [{"prompt": "Hi", "response": "A"}, {"prompt": "Hey", "response": "B"}]}
    async with make_client(script=script) as (gateway, _):
        answer = await gateway.post("/v1/score", json=two)
    assert answer.status_code == 200
    assert sorted(item["status"] for item in answer.json()["items"]) == ["engine_error", "engine_error"]
    assert all("garbage" in i["error"]["message"] or "unexpected" in i["error"]["message"]
               for i in answer.json()["items"])


def _library_copy(tmp_path: Path) -> Path:
    library = tmp_path / "rubrics"
    shutil.copytree(ROOT / "rubrics", library)
    return library


async def test_rubric_reload_swaps_a_valid_library_and_refuses_a_broken_one(make_client: AppFactory,
                                                                            tmp_path: Path) -> None:
    library = _library_copy(tmp_path)
    admin = bearer(OPERATOR)
    async with make_client(service={"api_keys": KEYS, "rubrics_dir": library}) as (gateway, _):
        before = (await gateway.get("/v1/rubrics", headers=admin)).json()["library_hash"]
        new = library / "chat" / "zz-brevity.yaml"
        new.write_text("id: chat.zz_brevity\nversion: 1\ndomain: chat\ntitle: Brevity\ndescription: Says it briefly.\n"
                       "bands:\n  - {min: 0, max: 10, description: Brief enough.}\n")
        reloaded = await gateway.post("/admin/rubrics/reload", headers=admin)
        assert reloaded.status_code == 200, reloaded.text
        after = reloaded.json()
        assert after["previous_hash"] == before and after["added"] == ["chat.zz_brevity@1"]
        assert (await gateway.get("/v1/rubrics", headers=admin)).json()["library_hash"] == after["library_hash"]
        assert (await gateway.get("/readyz")).json()["rubric_library_hash"] == after["library_hash"]
        scored = await gateway.post("/v1/score", json=SCORE, headers=admin)
        assert scored.json()["rubric_set"]["library_hash"] == after["library_hash"]
        assert "chat.zz_brevity@1" in scored.json()["rubric_set"]["ids"]

        new.write_text("id: chat.zz_brevity\nversion: 1\ndomain: chat\ntitle: Brevity\ndescription: Changed.\n"
                       "bands:\n  - {min: 0, max: 10, description: Brief enough.}\n")
        changed = await gateway.post("/admin/rubrics/reload", headers=admin)
        (library / "math" / "broken.yaml").write_text("id: math.broken\nversion: one\ndomain: math\n")
        new.unlink()
        broken = await gateway.post("/admin/rubrics/reload", headers=admin)
        still = (await gateway.get("/v1/rubrics", headers=admin)).json()["library_hash"]
        metrics = (await gateway.get("/metrics")).text
    assert changed.status_code == 422 and "immutable" in error_of(changed)["message"]
    assert broken.status_code == 422 and error_of(broken)["param"] == "math/broken.yaml"
    assert "field `version`" in error_of(broken)["message"]
    assert still == after["library_hash"]
    assert 'genrm_rubric_reloads_total{result="loaded"} 1.0' in metrics
    assert 'genrm_rubric_reloads_total{result="refused"} 2.0' in metrics


async def test_a_request_in_flight_keeps_the_rubric_set_it_started_with(make_client: AppFactory,
                                                                        tmp_path: Path) -> None:
    library = _library_copy(tmp_path)
    release = asyncio.Event()

    async def held(body: dict[str, Any]) -> list[str]:
        await release.wait()
        return default_script(body)

    async with make_client(script=held, service={"rubrics_dir": library}) as (gateway, fake):
        in_flight = asyncio.create_task(gateway.post("/v1/score", json=SCORE))
        await until(lambda: bool(fake.requests), "the request reached the engine")
        (library / "chat" / "zz-new.yaml").write_text(
            "id: chat.zz_new\nversion: 1\ndomain: chat\ntitle: New\ndescription: New.\n"
            "bands:\n  - {min: 0, max: 10, description: Any.}\n")
        reloaded = (await gateway.post("/admin/rubrics/reload")).json()
        release.set()
        answer = (await in_flight).json()
    assert answer["rubric_set"]["library_hash"] == reloaded["previous_hash"]
    assert "chat.zz_new@1" not in answer["rubric_set"]["ids"]


async def test_a_draining_gateway_refuses_new_work_and_finishes_what_it_accepted(make_client: AppFactory) -> None:
    release = asyncio.Event()

    async def held(body: dict[str, Any]) -> list[str]:
        await release.wait()
        return default_script(body)

    async with make_client(script=held) as (gateway, fake):
        transport = gateway._transport
        assert isinstance(transport, httpx.ASGITransport)
        drain = transport.app.state.drain  # type: ignore[attr-defined]
        in_flight = asyncio.create_task(gateway.post("/v1/score", json=SCORE))
        await until(lambda: bool(fake.requests), "the request reached the engine")
        drain.begin()
        refused = await gateway.post("/v1/score", json=SCORE)
        ready = await gateway.get("/readyz")
        assert not drain.finished()
        release.set()
        accepted = await in_flight
        assert drain.finished()
    assert refused.status_code == 503 and refused.headers["Retry-After"] == "5"
    assert error_of(refused)["type"] == "draining"
    assert (ready.status_code, ready.json()["status"]) == (503, "draining")
    assert accepted.status_code == 200 and accepted.json()["items"][0]["status"] == "ok"


async def test_found_by_the_fuzzer_a_huge_adapter_seed_is_a_422_not_a_500(make_client: AppFactory) -> None:
    body = {"query": ["Hi Hello"], "prompts": ["Hi"]}
    async with make_client() as (gateway, _):
        answer = await gateway.post("/v1/openrlhf/score", json=body, params={"seed": str(2**80)})
        undecodable = await gateway.post("/v1/score", content=b"\xff\xfe{",
                                         headers={"Content-Type": "application/json"})
    assert answer.status_code == 422 and error_of(answer)["param"] == "query.seed"
    assert undecodable.status_code == 422 and error_of(undecodable)["param"] == "body"


async def test_trainer_adapters_get_the_same_text_limits(make_client: AppFactory) -> None:
    async with make_client(service={"limits": {"max_text_chars": 100}}) as (gateway, fake):
        openrlhf = await gateway.post("/v1/openrlhf/score", json={"query": ["Hi " + "x" * 200], "prompts": ["Hi"]})
        slime = await gateway.post("/v1/slime/score", json={"prompt": "Hi", "response": "y" * 101})
    assert (openrlhf.status_code, error_of(openrlhf)["param"]) == (413, "query.0")
    assert (slime.status_code, error_of(slime)["param"]) == (413, "response")
    assert fake.requests == []
