"""The client-side trainer adapters (TRL reward functions, verl's compute_score) against scripted
`/v1/groups` answers (`httpx.MockTransport`, a fake at the HTTP boundary): what they send, and how they map
the answer back onto the batch. Against the real gateway and real trainers: tests/integration."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from genrm_client import JudgeClient, VerifyIn
from genrm_client.adapters.trl import GroupReward, ReferenceReward, ScoreReward, VerifiedReward, runs

Answer = Callable[[dict[str, Any]], list[list[dict[str, Any]]]]


def service(answer: Answer, sent: list[dict[str, Any]]) -> JudgeClient:
    """A client whose service answers each group's rollouts with `answer(request)` and records requests."""

    def handle(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        sent.append(body)
        groups = [{"id": group.get("id") or str(g), "reference": None, "rollouts": rollouts}
                  for g, (group, rollouts) in enumerate(zip(body["groups"], answer(body), strict=True))]
        return httpx.Response(200, json={
            "model": {"name": "m", "version": "1"}, "rubric_set": {"ids": [], "hash": "h"}, "usage": {},
            "mode": body["mode"], "groups": groups,
            "failures": {"policy": body.get("on_failure", {}).get("policy", "mask"), "failed": 0}})

    return JudgeClient("http://judge", transport=httpx.MockTransport(handle))


def rollout(index: int, reward: float | None, **fields: Any) -> dict[str, Any]:
    return {"index": index, "status": "ok" if reward is not None else "parse_failed", "reward": reward, **fields}


def test_consecutive_equal_prompts_form_the_batchs_groups() -> None:
    assert runs(["a", "a", "b", "b", "b", "a"]) == [range(0, 2), range(2, 5), range(5, 6)]


def test_score_reward_sends_one_request_and_masks_failures_as_none() -> None:
    sent: list[dict[str, Any]] = []

    def answer(body: dict[str, Any]) -> list[list[dict[str, Any]]]:
        return [[rollout(i, 8.0 if "good" in text else None) for i, text in enumerate(group["rollouts"])]
                for group in body["groups"]]

    reward = ScoreReward(service(answer, sent), task="math")
    prompts = [[{"role": "user", "content": "Q1"}]] * 2 + ["Q2"] * 2
    completions = [[{"role": "assistant", "content": "good"}], [{"role": "assistant", "content": "bad"}],
                   "good", "broken"]
    assert reward(prompts, completions, completion_ids=None) == [0.8, None, 0.8, None]
    assert len(sent) == 1 and sent[0]["mode"] == "pointwise" and sent[0]["task"] == "math"
    assert [g["rollouts"] for g in sent[0]["groups"]] == [["good", "bad"], ["good", "broken"]]
    assert reward.__name__ == "genrm_score"


def test_reference_reward_reads_the_reference_column_as_p_win_or_brpo() -> None:
    sent: list[dict[str, Any]] = []

    def answer(body: dict[str, Any]) -> list[list[dict[str, Any]]]:
        return [[rollout(0, 1.0, p_win=1.0, consistent=True), rollout(1, 0.0, p_win=0.5, consistent=False)]]

    client = service(answer, sent)
    p_win = ReferenceReward(client)(["Q", "Q"], ["x", "y"], reference=["gold", "gold"])
    brpo = ReferenceReward(client, reading="brpo")(["Q", "Q"], ["x", "y"], reference=["gold", "gold"])
    assert p_win == [1.0, 0.0] and brpo == [1.0, 0.0]
    assert sent[0]["mode"] == "brpo" and sent[0]["groups"][0]["reference"] == "gold"
    with pytest.raises(KeyError, match="reference"):
        ReferenceReward(client)(["Q"], ["x"], answer=["gold"])


def test_verified_reward_groups_by_prompt_and_reference_and_reads_score_over_ten() -> None:
    sent: list[dict[str, Any]] = []

    def answer(body: dict[str, Any]) -> list[list[dict[str, Any]]]:
        return [[rollout(i, 10.0 if text == group["reference"] else 0.0, decided_by="judge" if i else "verifier")
                 for i, text in enumerate(group["rollouts"])] for group in body["groups"]]

    reward = VerifiedReward(service(answer, sent), verify=VerifyIn(verifier="math"), reference_column="answer")
    got = reward(["Q", "Q", "Q", "R"], ["4", "5", "4", "7"], answer=["4", "4", "5", "7"])
    assert got == [1.0, 0.0, 0.0, 1.0]
    assert [(g["prompt"], g["reference"], g["rollouts"]) for g in sent[0]["groups"]] == [
        ("Q", "4", ["4", "5"]), ("Q", "5", ["4"]), ("R", "7", ["7"])]
    assert sent[0]["mode"] == "pointwise" and sent[0]["verify"]["verifier"] == "math"
    assert reward.last_stats == {"judge_asked": 0.25} and reward.__name__ == "genrm_verified"
    with pytest.raises(KeyError, match="answer"):
        reward(["Q"], ["x"], reference=["4"])


def test_group_reward_sends_groups_of_g_with_a_seed_per_call_and_reports_brpo_stats() -> None:
    sent: list[dict[str, Any]] = []

    def answer(body: dict[str, Any]) -> list[list[dict[str, Any]]]:
        return [[rollout(0, 0.0, reference=True), rollout(1, 1.0, p_win=1.0, consistent=True, outcome="win"),
                 rollout(2, -1.0, p_win=0.0, consistent=True, outcome="loss"), rollout(3, None)]
                for _ in body["groups"]]

    reward = GroupReward(service(answer, sent), group_size=4, inconsistent_reward=-1.0, reference_seed=10)
    first = reward(["P"] * 8, ["r"] * 8)
    reward(["P"] * 8, ["r"] * 8)
    assert first == [0.0, 1.0, -1.0, None] * 2
    assert [body["reference_seed"] for body in sent] == [10, 11]
    assert sent[0]["inconsistent_reward"] == -1.0 and len(sent[0]["groups"]) == 2
    assert reward.last_stats["win_rate"] == 0.5 and reward.last_stats["loss_rate"] == 0.5
    assert reward.__name__ == "genrm_brpo"
    with pytest.raises(ValueError, match="groups of 4"):
        reward(["P"] * 6, ["r"] * 6)


def test_a_reward_function_asks_for_the_verdict_mode_it_was_given() -> None:
    sent: list[dict[str, Any]] = []

    def answer(body: dict[str, Any]) -> list[list[dict[str, Any]]]:
        return [[rollout(i, 6.5) for i, _ in enumerate(group["rollouts"])] for group in body["groups"]]

    reward = ScoreReward(service(answer, sent), verdict="expected")
    assert reward(["Q"], ["an answer"]) == [0.65]
    assert sent[0]["verdict"] == "expected"
    ScoreReward(service(answer, sent))(["Q"], ["an answer"])
    assert sent[1]["verdict"] == "sampled"
