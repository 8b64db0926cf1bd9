"""/v1/groups mode `steps`: a GRPO group's rollouts each cut into steps, a score per step with its span, and the
rollout's reward the aggregate asked for; vLLM faked at the transport by the step judge of `test_steps_api`
(a step is incorrect when it holds WRONG). The real engine's version is in `tests/integration/test_live_judging.py`."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.test_errors_api import assert_envelope
from tests.api.test_steps_api import PROBLEM, STEPS, step_judge

RIGHT = "We add 2 and 3.\n\n2 + 3 = 5\n\nSo the answer is 5."


def group_body(rollouts: list[str], **overrides: Any) -> dict[str, Any]:
    return {"task": "math", "mode": "steps", "groups": [{"id": "g", "prompt": PROBLEM, "rollouts": rollouts}],
            **overrides}


async def test_every_rollout_gets_its_steps_and_its_weakest_step_as_reward(make_client, decode) -> None:
    async with make_client(step_judge(decode)) as (client, fake):
        response = await client.post("/v1/groups", json=group_body([STEPS, RIGHT], normalize=True))
    assert response.status_code == 200, response.text
    body = response.json()
    [wrong, right] = body["groups"][0]["rollouts"]
    assert body["mode"] == "steps" and len(fake.requests) == 6  # prefix: one judgment per step
    assert [step["verdict"] for step in wrong["steps"]] == ["correct", "incorrect", "correct"]
    assert [STEPS[step["start"]:step["end"]] for step in wrong["steps"]][1] == "2 + 3 = 6 WRONG"
    assert (wrong["reward"], wrong["step_aggregates"]["first_error"]) == (0.0, 1)
    assert (right["reward"], right["step_aggregates"]["first_error"]) == (1.0, None)
    assert wrong["advantage"] < 0 < right["advantage"]


async def test_the_reward_is_the_aggregate_asked_for_and_list_judges_each_rollout_once(make_client, decode) -> None:
    async with make_client(step_judge(decode)) as (client, fake):
        response = await client.post("/v1/groups", json=group_body(
            [STEPS], steps={"strategy": "list", "reward": "mean"}))
    [rollout] = response.json()["groups"][0]["rollouts"]
    grammar = fake.requests[0]["structured_outputs"]["regex"]
    assert len(fake.requests) == 1 and "3: (correct|incorrect|neutral)" in grammar
    assert rollout["reward"] == pytest.approx(2 / 3) == rollout["step_aggregates"]["mean"]


async def test_a_rollout_the_rule_finds_no_step_in_is_one_step(make_client, decode) -> None:
    unnumbered = "  the answer is 5 without numbered steps\n"
    async with make_client(step_judge(decode)) as (client, _):
        response = await client.post("/v1/groups", json=group_body([unnumbered], steps={"split": "numbered"}))
    [rollout] = response.json()["groups"][0]["rollouts"]
    [step] = rollout["steps"]
    assert unnumbered[step["start"]:step["end"]] == unnumbered.strip()
    assert (step["verdict"], rollout["reward"]) == ("correct", 1.0)


async def test_a_blank_rollout_is_one_empty_step_flagged_empty(make_client, decode) -> None:
    async with make_client(step_judge(decode)) as (client, fake):
        response = await client.post("/v1/groups", json=group_body(["   ", RIGHT]))
    [blank, right] = response.json()["groups"][0]["rollouts"]
    assert [(step["start"], step["end"]) for step in blank["steps"]] == [(0, 0)]
    assert [flag["kind"] for flag in blank["flags"]] == ["empty"] and len(fake.requests) == 4


async def test_a_blank_rollout_is_penalized_without_judging_when_the_policy_acts_on_empty(make_client,
                                                                                         decode) -> None:
    async with make_client(step_judge(decode)) as (client, fake):
        response = await client.post("/v1/groups", json=group_body(
            ["   ", RIGHT], on_flag={"policy": "penalize", "kinds": ["empty"]}))
    [blank, right] = response.json()["groups"][0]["rollouts"]
    assert (blank["status"], blank["reward"], blank["penalized"]) == ("ok", 0.0, True)
    assert [flag["kind"] for flag in blank["flags"]] == ["empty"] and blank["flags"][0]["field"] == "response"
    assert right["reward"] == 1.0 and len(fake.requests) == 3  # only the other rollout's steps were judged


async def test_a_rollout_over_the_step_limit_fails_alone_and_is_filled_by_the_policy(make_client, decode) -> None:
    many = "\n".join(f"line {index}" for index in range(65))
    async with make_client(step_judge(decode)) as (client, _):
        response = await client.post("/v1/groups", json=group_body(
            [many, RIGHT], steps={"split": "lines"}, on_failure={"policy": "neutral", "neutral_value": 0.5}))
    body = response.json()
    [over, right] = body["groups"][0]["rollouts"]
    assert (over["status"], over["reward"], over["filled"]) == ("too_long", 0.5, "neutral")
    assert "65 steps" in over["error"]["message"] and right["reward"] == 1.0
    assert body["failures"]["failed"] == 1


@pytest.mark.parametrize(("overrides", "param", "words"), [
    ({"steps": {"split": "regex", "pattern": "("}}, "steps.pattern", "not a valid regular expression"),
    ({"steps": {"split": "list"}}, "steps.split", "no list of their steps"),
    ({"steps": {"split": "regex"}}, "steps", "exactly when split is 'regex'"),
    ({"mode": "pointwise", "steps": {"strategy": "list"}}, "body", "steps: says how mode 'steps'"),
])
async def test_a_step_setting_that_cannot_work_is_a_422_naming_it(make_client, decode, overrides: dict[str, Any],
                                                                  param: str, words: str) -> None:
    async with make_client(step_judge(decode)) as (client, fake):
        response = await client.post("/v1/groups", json=group_body([RIGHT], **overrides))
    assert_envelope(response, 422, "invalid_request", param)
    assert words in response.json()["error"]["message"] and not fake.requests
