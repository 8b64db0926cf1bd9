"""Budget forcing through the gateway, with the engine faked: the judge writes freely within max_tokens less the
reserve (counted with the judge's tokenizer); a judgment cut off there is continued by one request in which the
gateway writes the ending's fixed part and the judge only its answer, and it still gives a verdict."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from models.chat import ChatTemplate
from models.formats import POINTWISE
from service.engine.forcing_contract import ENGINE_SLACK_TOKENS
from tests.api.conftest import AppFactory
from tests.fakes import pointwise_completion

ITEM = {"id": "long", "prompt": "Explain everything about the universe.", "response": "It is big."}
CUT_OFF = "<think>Première idée : a < b, donc la réponse est"  # stopped mid-sentence, mid-section
WRITTEN = "</think>\n<generate_rubrics>n/a</generate_rubrics>\n<eval>n/a</eval>\n<answer>"  # by the gateway
ANSWERED = "6</answer>"  # by the judge


def cut_then_forced(body: dict[str, Any]) -> httpx.Response:
    """First request: every sample runs out of tokens. The continuation (its regex is the answer's alone) writes
    the answer."""
    regex = body.get("structured_outputs", {}).get("regex", "")
    forced = regex.endswith("</answer>") and "<think>" not in regex
    text, reason = (ANSWERED, "stop") if forced else (CUT_OFF, "length")
    return httpx.Response(200, json={
        "choices": [{"index": i, "text": text, "finish_reason": reason} for i in range(body["n"])],
        "usage": {"prompt_tokens": len(body["prompt"]), "completion_tokens": 7 * body["n"]},
    })


async def forced_counts(client: httpx.AsyncClient) -> dict[str, float]:
    text = (await client.get("/metrics")).text
    return {s.labels["result"]: s.value for family in text_string_to_metric_families(text)
            for s in family.samples if s.name == "genrm_forced_endings_total" and s.labels["format"] == "pointwise"}


async def test_a_cut_off_judgment_gets_a_forced_ending_and_its_whole_text(
    make_client: AppFactory, decode: Callable[[dict[str, Any]], str], chat_template: ChatTemplate
) -> None:
    async with make_client(script=cut_then_forced) as (client, fake):
        response = await client.post("/v1/score", json={"task": "chat", "votes": 2, "items": [ITEM],
                                                        "include_judgments": True, "sampling": {"max_tokens": 512}})
        counts = await forced_counts(client)
    assert response.status_code == 200, response.text
    item = response.json()["items"][0]
    assert (item["status"], item["score"], item["votes_used"], item["parse_failures"]) == ("ok", 6.0, 2, {})
    assert [(j["forced"], j["text"], j["finish_reason"]) for j in item["judgments"]] == [
        (True, CUT_OFF + WRITTEN + ANSWERED, "stop")] * 2
    first, *endings = fake.requests
    reserve = POINTWISE.ending_tokens(lambda text: len(chat_template.encode_literal(text)))
    assert reserve < POINTWISE.ending_tokens()  # counted with the judge's tokenizer, not a token per byte
    assert first["max_tokens"] == 512 - reserve and first["n"] == 2
    assert len(endings) == 2
    for ending in endings:
        assert ending["n"] == 1 and ending["max_tokens"] == POINTWISE.answer_tokens()
        assert ending["prompt"][: len(first["prompt"])] == first["prompt"]  # the cached prefix, then the text
        assert decode(ending).endswith(CUT_OFF + WRITTEN)
    usage = response.json()["usage"]
    assert usage["engine_requests"] == 3
    assert counts == {"verdict": 2, "parse_failure": 0}


async def test_an_unconstrained_checkpoint_writes_as_trained_and_only_the_cut_off_is_forced(
    make_client: AppFactory
) -> None:
    async with make_client(script=cut_then_forced, constrained=False) as (client, fake):
        response = await client.post("/v1/score", json={"task": "chat", "votes": 1, "items": [ITEM],
                                                        "include_judgments": True})
    item = response.json()["items"][0]
    assert item["status"] == "ok" and item["judgments"][0]["forced"] is True
    first, ending = fake.requests
    assert "structured_outputs" not in first
    assert ending["structured_outputs"]["regex"].endswith("</answer>")


async def test_a_judgment_that_finishes_is_not_forced(make_client: AppFactory) -> None:
    async with make_client() as (client, fake):
        response = await client.post("/v1/score", json={"task": "chat", "votes": 2, "items": [ITEM],
                                                        "include_judgments": True})
        counts = await forced_counts(client)
    judgments = response.json()["items"][0]["judgments"]
    assert [j["forced"] for j in judgments] == [False, False]
    assert judgments[0]["text"] == pointwise_completion("7")
    assert len(fake.requests) == 1 and counts == {"verdict": 0, "parse_failure": 0}


async def test_a_cut_off_with_misordered_tags_is_a_parse_failure_not_a_forced_ending(
    make_client: AppFactory
) -> None:
    def rambling(body: dict[str, Any]) -> httpx.Response:
        return httpx.Response(200, json={
            "choices": [{"index": 0, "text": "<eval>first</eval> and then", "finish_reason": "length"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1},
        })

    async with make_client(script=rambling, constrained=False) as (client, fake):
        response = await client.post("/v1/score", json={"task": "chat", "votes": 1, "items": [ITEM]})
    item = response.json()["items"][0]
    assert item["status"] == "parse_failed" and item["parse_failures"] == {"missing_tags": 1}
    assert len(fake.requests) == 1


async def test_an_unconstrained_checkpoint_below_the_reserve_writes_its_whole_budget_unforced(
    make_client: AppFactory
) -> None:
    async with make_client(script=cut_then_forced, constrained=False) as (client, fake):
        response = await client.post("/v1/score", json={"task": "chat", "votes": 1, "items": [ITEM],
                                                        "sampling": {"max_tokens": 64}})
    item = response.json()["items"][0]
    assert response.status_code == 200 and item["status"] == "parse_failed"
    assert [request["max_tokens"] for request in fake.requests] == [64]


async def test_in_engine_forcing_is_one_request_of_the_whole_budget(
    make_client: AppFactory, chat_template: ChatTemplate
) -> None:
    """`forced_ending: in_engine`: the request carries the whole `max_tokens`, where the engine's processor must
    start the ending (`vllm_xargs`), and asks for token ids; a sample that ran past that point is `forced`."""
    count = lambda text: len(chat_template.encode_literal(text))  # noqa: E731
    force_at = POINTWISE.reasoning_tokens(256, count) - ENGINE_SLACK_TOKENS

    def engine_forced(body: dict[str, Any]) -> httpx.Response:
        texts = [(CUT_OFF + WRITTEN + ANSWERED, force_at + 20), ("<think>t</think>\n<generate_rubrics>r"
                                                                 "</generate_rubrics>\n<eval>e</eval>\n<answer>7"
                                                                 "</answer>", 30)]
        return httpx.Response(200, json={
            "choices": [{"index": i, "text": text, "finish_reason": "stop", "token_ids": [0] * tokens}
                        for i, (text, tokens) in enumerate(texts)],
            "usage": {"prompt_tokens": len(body["prompt"]), "completion_tokens": force_at + 50},
        })

    async with make_client(script=engine_forced, forced_ending="in_engine") as (client, fake):
        response = await client.post("/v1/score", json={"task": "chat", "votes": 2, "items": [ITEM],
                                                        "include_judgments": True, "sampling": {"max_tokens": 256}})
        counts = await forced_counts(client)
    item = response.json()["items"][0]
    assert (item["status"], item["scores"]) == ("ok", [6.0, 7.0])
    assert [j["forced"] for j in item["judgments"]] == [True, False]
    (request,) = fake.requests  # no second round trip
    assert request["max_tokens"] == 256 and request["vllm_xargs"] == {"genrm_force_at": force_at}
    assert request["return_token_ids"] is True
    assert counts == {"verdict": 1, "parse_failure": 0}


async def test_the_second_request_mode_sends_no_engine_arguments(make_client: AppFactory) -> None:
    async with make_client(script=cut_then_forced, forced_ending="second_request") as (client, fake):
        await client.post("/v1/score", json={"task": "chat", "items": [ITEM]})
    assert all("vllm_xargs" not in body for body in fake.requests) and len(fake.requests) == 2
