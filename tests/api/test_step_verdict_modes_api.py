"""`verdict: expected|direct` on the step judges (`/v1/steps`, `/v1/groups` mode `steps`), against the fake vLLM at
the transport: where each step's verdict is read, what it conditions on, and what it is worth. The real engine's
reading: tests/integration/test_live_judging.py."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from models.chat import ChatTemplate
from models.formats.steps import STEP, StepListFormat
from tests.api.test_steps_api import item, step_judge
from tests.fakes import is_verdict_read, top_logprobs_answer

Script = Callable[[dict[str, Any]], list[str] | httpx.Response]


def first_token(template: ChatTemplate, verdict: str) -> int:
    """A verdict's first token: where the tree branches (a verdict of two tokens is decided by its first)."""
    return template.encode_literal(verdict)[0]


def _judged_step(text: str) -> str:
    return text.split("<step>")[-1].split("</step>")[0]


async def test_prefix_expected_values_each_vote_at_the_distribution_read_at_its_verdict(
    make_client: Callable[..., Any], chat_template: ChatTemplate, decode: Callable[[dict[str, Any]], str]
) -> None:
    correct, incorrect, neutral = (first_token(chat_template, verdict) for verdict in ("correct", "incorrect",
                                                                                         "neutral"))
    written = step_judge(decode)

    def script(body: dict[str, Any]) -> list[str] | httpx.Response:
        if not is_verdict_read(body):
            return written(body)
        text = decode(body)
        assert text.endswith("<answer>"), text[-60:]
        if "WRONG" in _judged_step(text):
            return top_logprobs_answer(body, {incorrect: 0.8, correct: 0.2})
        return top_logprobs_answer(body, {correct: 0.6, neutral: 0.4})

    async with make_client(script) as (client, fake):
        response = await client.post("/v1/steps", json={"items": [item()], "votes": 2, "verdict": "expected",
                                                        "include_judgments": True, "sampling": {"temperature": 1.0}})
    assert response.status_code == 200, response.text
    data = response.json()
    (judged,) = data["items"]
    assert data["verdict"] == "expected"
    steps = judged["steps"]
    assert [step["verdict"] for step in steps] == ["correct", "incorrect", "correct"]  # the written majority
    assert [step["votes"] for step in steps] == [{"correct": 2}, {"incorrect": 2}, {"correct": 2}]
    assert [step["score"] for step in steps] == pytest.approx([0.8, 0.2, 0.8])  # p(correct) + ½ p(neutral)
    assert steps[1]["p"] == pytest.approx({"correct": 0.2, "neutral": 0.0, "incorrect": 0.8})
    assert judged["aggregates"]["min"] == pytest.approx(0.2) and judged["aggregates"]["first_error"] == 1
    assert all(judgment["p"] is not None for judgment in judged["judgments"])
    assert len([body for body in fake.requests if not is_verdict_read(body)]) == 3  # one sampled judgment per step


async def test_list_direct_reads_each_line_after_the_most_probable_lines_before_it(
    make_client: Callable[..., Any], chat_template: ChatTemplate, decode: Callable[[dict[str, Any]], str]
) -> None:
    correct, incorrect, neutral = (first_token(chat_template, f" {verdict}") for verdict in ("correct", "incorrect",
                                                                                               "neutral"))
    answers = {"<answer>1:": {correct: 0.7, neutral: 0.3},
               "<answer>1: correct\n2:": {incorrect: 0.9, correct: 0.1},
               "<answer>1: correct\n2: incorrect\n3:": {incorrect: 0.6, neutral: 0.4}}
    asked: list[str] = []

    def script(body: dict[str, Any]) -> httpx.Response:
        assert is_verdict_read(body), "direct must not sample a judgment"
        text = decode(body)
        (ending,) = [ending for ending in answers if text.endswith(ending)]
        if ending not in asked:
            asked.append(ending)
        return top_logprobs_answer(body, answers[ending])

    async with make_client(script) as (client, _):
        response = await client.post("/v1/steps", json={"items": [item()], "strategy": "list", "verdict": "direct",
                                                        "votes": 3, "include_judgments": True})
    assert response.status_code == 200, response.text
    (judged,) = response.json()["items"]
    assert asked == list(answers)  # one line after another, each on the lines chosen before it
    steps = judged["steps"]
    assert [step["verdict"] for step in steps] == ["correct", "incorrect", "incorrect"]
    assert [step["score"] for step in steps] == pytest.approx([0.85, 0.1, 0.2])
    assert all(step["votes"] == {} for step in steps)  # nothing was written
    assert judged["votes_used"] == 1
    (judgment,) = judged["judgments"]
    assert judgment["text"] == StepListFormat(steps=3).direct_prefill() + "1: correct\n2: incorrect\n3: incorrect\n"


async def test_list_expected_reads_each_line_after_the_lines_its_vote_wrote(
    make_client: Callable[..., Any], chat_template: ChatTemplate, decode: Callable[[dict[str, Any]], str]
) -> None:
    correct, incorrect = (first_token(chat_template, f" {verdict}") for verdict in ("correct", "incorrect"))
    written = step_judge(decode)
    endings: list[str] = []

    def script(body: dict[str, Any]) -> list[str] | httpx.Response:
        if not is_verdict_read(body):
            return written(body)
        text = decode(body)
        endings.append(text[text.rindex("<answer>"):])
        return top_logprobs_answer(body, {correct: 0.75, incorrect: 0.25})

    async with make_client(script) as (client, _):
        response = await client.post("/v1/steps", json={"items": [item()], "strategy": "list",
                                                        "verdict": "expected"})
    assert response.status_code == 200, response.text
    (judged,) = response.json()["items"]
    assert set(endings) == {"<answer>1:", "<answer>1: correct\n2:", "<answer>1: correct\n2: incorrect\n3:"}
    assert [step["verdict"] for step in judged["steps"]] == ["correct", "incorrect", "correct"]
    assert [step["score"] for step in judged["steps"]] == pytest.approx([0.75, 0.75, 0.75])
    assert judged["steps"][0]["p"] == pytest.approx({"correct": 0.75, "neutral": 0.0, "incorrect": 0.25})


async def test_a_step_that_cannot_be_read_fails_its_item_alone_and_says_so(
    make_client: Callable[..., Any], chat_template: ChatTemplate, decode: Callable[[dict[str, Any]], str]
) -> None:
    correct = first_token(chat_template, "correct")

    def script(body: dict[str, Any]) -> httpx.Response:
        if "UNREADABLE" in _judged_step(decode(body)):
            return top_logprobs_answer(body, {4242: 1.0})
        return top_logprobs_answer(body, {correct: 1.0})

    async with make_client(script) as (client, _):
        response = await client.post("/v1/steps", json={"verdict": "direct", "items": [
            item(id="bad", solution="Fine.\n\nUNREADABLE"), item(id="good", solution="Fine.\n\nAlso fine.")]})
    bad, good = response.json()["items"]
    assert bad["status"] == "parse_failed" and bad["parse_failures"] == {"unreadable_verdict": 1}
    assert "verdict: sampled" in bad["error"]["message"] and bad["steps"][1]["verdict"] is None
    assert good["status"] == "ok" and good["aggregates"]["min"] == 1.0


async def test_groups_in_steps_mode_pay_the_expected_step_reward(
    make_client: Callable[..., Any], chat_template: ChatTemplate, decode: Callable[[dict[str, Any]], str]
) -> None:
    correct, incorrect, neutral = (first_token(chat_template, verdict) for verdict in ("correct", "incorrect",
                                                                                         "neutral"))

    def script(body: dict[str, Any]) -> httpx.Response:
        text = decode(body)
        assert text.endswith(STEP.direct_prefill())
        if "WRONG" in _judged_step(text):
            return top_logprobs_answer(body, {incorrect: 0.9, correct: 0.1})
        return top_logprobs_answer(body, {correct: 0.8, neutral: 0.2})

    async with make_client(script) as (client, _):
        response = await client.post("/v1/groups", json={
            "task": "math", "mode": "steps", "verdict": "direct", "steps": {"reward": "mean"},
            "groups": [{"prompt": "What is 2 + 3?", "rollouts": ["2 + 3 = 5.", "2 + 3 = 6 WRONG"]}]})
    assert response.status_code == 200, response.text
    assert response.json()["verdict"] == "direct"
    (group,) = response.json()["groups"]
    assert [rollout["reward"] for rollout in group["rollouts"]] == pytest.approx([0.9, 0.1])
    assert group["rollouts"][1]["steps"][0]["p"] == pytest.approx({"correct": 0.1, "neutral": 0.0,
                                                                    "incorrect": 0.9})


async def test_the_trl_step_reward_passes_its_verdict_mode(
    make_judge: Callable[..., Any], chat_template: ChatTemplate, decode: Callable[[dict[str, Any]], str]
) -> None:
    from genrm_client.adapters.trl_steps import AsyncStepReward

    correct, neutral = (first_token(chat_template, verdict) for verdict in ("correct", "neutral"))

    def script(body: dict[str, Any]) -> httpx.Response:
        assert is_verdict_read(body), "direct must not sample a judgment"
        return top_logprobs_answer(body, {correct: 0.5, neutral: 0.5})

    async with make_judge(script) as (judge, _):
        reward = AsyncStepReward(judge, aggregate="mean", verdict="direct")
        rewards = await reward(["What is 2 + 3?"], ["2 + 3 = 5\n\nSo 5."])
    assert rewards == [pytest.approx(0.75)]
    assert reward.last_steps[0].steps[0].p == pytest.approx({"correct": 0.5, "neutral": 0.5, "incorrect": 0.0})
