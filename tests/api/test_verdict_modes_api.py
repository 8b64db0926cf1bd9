"""`verdict: expected|direct` through the gateway, against the fake vLLM at the transport: what is read where, what
it is worth, and what each route answers. The real engine's reading: tests/integration/test_verdict_modes_engine.py."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from models.chat import ChatTemplate
from models.formats import POINTWISE
from tests.fakes import is_verdict_read, pairwise_completion, pointwise_completion, top_logprobs_answer

CHAT = {"task": "chat", "rubric_ids": ["chat.usefulness@1"]}
SCORE_ITEM = {"prompt": "Say hi.", "response": "Hi!"}
PAIR_ITEM = {"prompt": "Say hi.", "response_a": "Hi!", "response_b": "Go away."}


def _token(template: ChatTemplate, text: str) -> int:
    (token,) = template.encode_literal(text)
    return token


def _closing(template: ChatTemplate) -> int:
    return template.encode_literal("</answer>")[0]


async def test_expected_reads_each_vote_at_its_own_answer_and_scores_the_expectation(
    make_client: Callable[..., Any], chat_template: ChatTemplate, decode: Callable[[dict[str, Any]], str]
) -> None:
    digit = {d: _token(chat_template, str(d)) for d in range(10)}

    def script(body: dict[str, Any]) -> list[str] | httpx.Response:
        if not is_verdict_read(body):
            return [pointwise_completion("7", think="first"), pointwise_completion("3", think="second")]
        text = decode(body)
        if text.endswith("<answer>1"):  # the node that tells 1 from 10
            return top_logprobs_answer(body, {digit[0]: 0.5, _closing(chat_template): 0.5})
        if "first" in text:
            return top_logprobs_answer(body, {digit[7]: 0.4, digit[8]: 0.4, 4242: 0.2})
        return top_logprobs_answer(body, {digit[3]: 0.9, 4242: 0.1})

    async with make_client(script) as (client, fake):
        response = await client.post("/v1/score", json={
            **CHAT, "items": [SCORE_ITEM], "votes": 2, "verdict": "expected", "include_judgments": True,
            "sampling": {"temperature": 1.0},
        })
    assert response.status_code == 200, response.text
    data = response.json()
    item = data["items"][0]
    assert data["verdict"] == "expected"
    assert item["scores"] == [7.5, 3.0]
    assert item["score"] == 5.25
    assert item["p"]["7"] == 0.25 and item["p"]["8"] == 0.25 and item["p"]["3"] == 0.5
    assert sum(item["p"].values()) == 1.0
    assert [j["score"] for j in item["judgments"]] == [7.0, 3.0]  # what each judgment wrote stays as written
    assert item["judgments"][0]["p"]["8"] == 0.5
    reads = [body for body in fake.requests if is_verdict_read(body)]
    tops = [body for body in reads if "allowed_token_ids" not in body]
    assert len(tops) == 4  # two votes x (root, after "1")
    assert all(body["max_tokens"] == 1 and body["n"] == 1 and body["logprobs"] == 20 for body in tops)
    # Each digit of probability 0 (missing from the top) is read alone: 8 for the first vote, 9 for the second.
    forced = [body["allowed_token_ids"] for body in reads if "allowed_token_ids" in body]
    assert len(forced) == 17 and all(len(only) == 1 for only in forced)
    sampled_prompt = next(body for body in fake.requests if not is_verdict_read(body))["prompt"]
    assert all(body["prompt"][: len(sampled_prompt)] == sampled_prompt for body in reads)  # the prefix is shared
    assert data["usage"]["engine_requests"] == 1 + 4 + 17


async def test_direct_reads_once_with_no_reasoning_and_ignores_votes(
    make_client: Callable[..., Any], chat_template: ChatTemplate, decode: Callable[[dict[str, Any]], str]
) -> None:
    digit = {d: _token(chat_template, str(d)) for d in range(10)}
    prompts: list[str] = []

    def script(body: dict[str, Any]) -> list[str] | httpx.Response:
        assert is_verdict_read(body), "direct must not sample a judgment"
        prompts.append(decode(body))
        if prompts[-1].endswith("<answer>1"):
            return top_logprobs_answer(body, {digit[0]: 0.8, _closing(chat_template): 0.2})
        return top_logprobs_answer(body, {digit[1]: 0.5, digit[9]: 0.5})

    async with make_client(script) as (client, _):
        response = await client.post("/v1/score", json={
            **CHAT, "items": [SCORE_ITEM], "votes": 3, "verdict": "direct", "include_judgments": True,
            "sampling": {"temperature": 1.0},
        })
    assert response.status_code == 200, response.text
    item = response.json()["items"][0]
    assert item["p"]["10"] == 0.4 and item["p"]["1"] == 0.1 and item["p"]["9"] == 0.5
    assert abs(item["score"] - (0.4 * 10 + 0.1 * 1 + 0.5 * 9)) < 1e-9
    assert item["votes_used"] == 1
    assert item["judgments"][0]["text"] == POINTWISE.direct_prefill()
    assert prompts[0].endswith(POINTWISE.direct_prefill())


async def test_verdicts_outside_the_top_are_read_exactly_one_token_at_a_time(
    make_client: Callable[..., Any], chat_template: ChatTemplate
) -> None:
    """A judge that would rather write anything else: A and B rank below 25 other tokens, so neither is among the
    top 20, and each is read alone (`allowed_token_ids`); the distribution renormalised over them is exact."""
    shown_a, shown_b = _token(chat_template, "A"), _token(chat_template, "B")
    preferred = {5000 + i: 0.038 for i in range(25)}

    def script(body: dict[str, Any]) -> httpx.Response:
        return top_logprobs_answer(body, {**preferred, shown_a: 0.03, shown_b: 0.02})

    async with make_client(script) as (client, fake):
        response = await client.post("/v1/compare", json={**CHAT, "items": [PAIR_ITEM], "verdict": "direct",
                                                          "swap": False})
    item = response.json()["items"][0]
    assert item["status"] == "ok" and abs(item["p_a"] - 0.6) < 1e-9
    assert sorted(tuple(body.get("allowed_token_ids", ())) for body in fake.requests) == [
        (), (shown_a,), (shown_b,)]


async def test_direct_with_no_probability_on_any_verdict_fails_that_item_alone(
    make_client: Callable[..., Any],
) -> None:
    def script(body: dict[str, Any]) -> httpx.Response:
        return top_logprobs_answer(body, {4242: 1.0})

    async with make_client(script) as (client, _):
        response = await client.post("/v1/score", json={**CHAT, "items": [SCORE_ITEM], "verdict": "direct"})
    item = response.json()["items"][0]
    assert item["status"] == "parse_failed"
    assert item["parse_failures"] == {"unreadable_verdict": 1}
    assert "verdict: sampled" in item["error"]["message"]


async def test_compare_expected_averages_in_probability_over_both_orders(
    make_client: Callable[..., Any], chat_template: ChatTemplate, decode: Callable[[dict[str, Any]], str]
) -> None:
    shown_a, shown_b = _token(chat_template, "A"), _token(chat_template, "B")

    def script(body: dict[str, Any]) -> list[str] | httpx.Response:
        text = decode(body)
        first_shown_is_a = text.index("Hi!") < text.index("Go away.")
        if not is_verdict_read(body):  # the judge always prefers the polite response, as sampled
            return [pairwise_completion("A" if first_shown_is_a else "B")]
        if first_shown_is_a:
            return top_logprobs_answer(body, {shown_a: 0.8, shown_b: 0.2})
        return top_logprobs_answer(body, {shown_a: 0.4, shown_b: 0.6})  # order ba: p(request's A) = 0.6

    async with make_client(script) as (client, _):
        response = await client.post("/v1/compare", json={
            **CHAT, "items": [PAIR_ITEM], "verdict": "expected", "include_judgments": True,
        })
    assert response.status_code == 200, response.text
    item = response.json()["items"][0]
    assert abs(item["p_a"] - 0.7) < 1e-9
    assert item["preference"] == "A" and item["consistent"] is True
    assert [vote["winner"] for vote in item["votes"]] == ["A", "A"]  # the sampled votes, as before
    assert [j["p"]["A"] for j in item["judgments"]] == [0.8, 0.4]  # each as shown in its order


async def test_compare_direct_and_brpo_pay_the_expected_reward(
    make_client: Callable[..., Any], chat_template: ChatTemplate, decode: Callable[[dict[str, Any]], str]
) -> None:
    shown_a, shown_b = _token(chat_template, "A"), _token(chat_template, "B")

    def script(body: dict[str, Any]) -> httpx.Response:
        assert is_verdict_read(body), "direct must not sample a judgment"
        return top_logprobs_answer(body, {shown_a: 0.9, shown_b: 0.1})  # a judge that always picks the first shown

    async with make_client(script) as (client, _):
        compared = await client.post("/v1/compare", json={**CHAT, "items": [PAIR_ITEM], "verdict": "direct"})
        grouped = await client.post("/v1/groups", json={
            **CHAT, "mode": "brpo", "verdict": "direct",
            "groups": [{"prompt": "Say hi.", "rollouts": ["Hi!", "Hello!"], "reference": "Hey."}],
        })
    item = compared.json()["items"][0]
    assert abs(item["p_a"] - 0.5) < 1e-9  # position bias cancels in probability space
    assert item["preference"] == "tie" and item["consistent"] is False
    assert grouped.status_code == 200, grouped.text
    rollouts = grouped.json()["groups"][0]["rollouts"]
    assert [abs(rollout["reward"]) < 1e-9 for rollout in rollouts] == [True, True]  # 2·½ − 1
    assert [rollout["outcome"] for rollout in rollouts] == ["inconsistent", "inconsistent"]


async def test_an_unknown_verdict_mode_is_refused_naming_the_modes(make_client: Callable[..., Any]) -> None:
    async with make_client() as (client, _):
        unknown = await client.post("/v1/score", json={**CHAT, "items": [SCORE_ITEM], "verdict": "logprob"})
    assert unknown.status_code == 422
    assert unknown.json()["error"]["param"] == "verdict"
    assert "expected" in unknown.json()["error"]["message"]


async def test_the_trainer_routes_take_the_verdict_mode_from_their_url(
    make_client: Callable[..., Any], chat_template: ChatTemplate, decode: Callable[[dict[str, Any]], str]
) -> None:
    shown_a, shown_b = _token(chat_template, "A"), _token(chat_template, "B")
    digit = {d: _token(chat_template, str(d)) for d in range(10)}

    def script(body: dict[str, Any]) -> httpx.Response:
        assert is_verdict_read(body), "direct must not sample a judgment"
        if "<response_a>" in decode(body):
            text = decode(body)
            first_is_policy = text.index("good line") < text.index("reference line")
            return top_logprobs_answer(body, {shown_a: 0.75 if first_is_policy else 0.35,
                                              shown_b: 0.25 if first_is_policy else 0.65})
        if decode(body).endswith("<answer>1"):
            return top_logprobs_answer(body, {digit[0]: 0.5, _closing(chat_template): 0.5})
        return top_logprobs_answer(body, {digit[6]: 0.5, digit[8]: 0.5})

    prompt = "<|im_start|>user\nWrite a line.<|im_end|>\n<|im_start|>assistant\n"
    async with make_client(script) as (client, _):
        compared = await client.post("/v1/openrlhf/compare?verdict=direct", json={
            "query": [prompt + "good line<|im_end|>"], "prompts": [prompt], "labels": ["reference line"]})
        scored = await client.post("/v1/slime/score?verdict=direct", json={"prompt": "Write a line.",
                                                                            "response": "good line"})
    assert compared.status_code == 200, compared.text
    assert abs(compared.json()["scores"][0] - 0.7) < 1e-9  # (0.75 + (1 − 0.35)) / 2
    assert scored.status_code == 200, scored.text
    assert abs(scored.json()["unit"] - 0.7) < 1e-9  # (6 + 8) / 2 / 10


async def test_trajectories_read_the_trace_and_each_turn_in_probability(
    make_client: Callable[..., Any], chat_template: ChatTemplate, decode: Callable[[dict[str, Any]], str]
) -> None:
    from tests.api.test_trajectories_api import item, judge_by_marker

    digit = {d: _token(chat_template, str(d)) for d in range(10)}
    sampled = judge_by_marker(decode)

    def script(body: dict[str, Any]) -> list[str] | httpx.Response:
        if not is_verdict_read(body):
            return sampled(body)
        text = decode(body)
        if text.endswith("<answer>1"):
            return top_logprobs_answer(body, {digit[0]: 0.5, _closing(chat_template): 0.5})
        if "<turn_to_judge>" in text:  # a judged turn: 8 or 4 evenly
            return top_logprobs_answer(body, {digit[8]: 0.5, digit[4]: 0.5})
        return top_logprobs_answer(body, {digit[7]: 1.0})

    async with make_client(script) as (client, fake):
        expected = await client.post("/v1/trajectories", json={"items": [item(turns="all")],
                                                               "verdict": "expected"})
        sampled_requests = sum(not is_verdict_read(body) for body in fake.requests)
        direct = await client.post("/v1/trajectories", json={"items": [item(turns="all")], "verdict": "direct"})
    assert expected.status_code == 200, expected.text
    judged = expected.json()["items"][0]
    assert judged["score"] == 7.0 and judged["turn_scores"] == [6.0, None, None, 6.0]
    assert sampled_requests == 3  # the trace and two turns, each sampled once, then read
    judged = direct.json()["items"][0]
    assert judged["score"] == 7.0 and judged["turn_scores"] == [6.0, None, None, 6.0]
    assert sum(not is_verdict_read(body) for body in fake.requests) == sampled_requests  # direct sampled nothing
