"""/v1/groups: group rewards (BRPO, pointwise, round robin) and the failure policy, vLLM faked at the transport.
Every expected reward is worked out by hand from the judge script's rule."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from typing import Any

from tests.fakes import pairwise_completion, pointwise_completion

Decode = Callable[[dict[str, Any]], str]
ROLLOUTS = ["good one", "bad one", "meh", "also meh"]


def block(text: str, tag: str) -> str:
    return text.split(f"<{tag}>")[-1].split(f"</{tag}>")[0].strip()


def quality_judge(decode: Decode) -> Callable[[dict[str, Any]], list[str]]:
    """Pairwise: the response with 'good' wins, else the one without 'bad'; two plain ones: A (position bias).
    Pointwise: 'good' 9, 'bad' 1, else 5; 'broken' gets an unparseable judgment."""

    def script(body: dict[str, Any]) -> list[str]:
        text = decode(body)
        if "<response_a>" not in text:
            response = block(text, "response")
            if "broken" in response:
                return ["no tags at all"]
            return [pointwise_completion("9" if "good" in response else "1" if "bad" in response else "5")]
        first, second = block(text, "response_a"), block(text, "response_b")
        if "broken" in first or "broken" in second:
            return ["no tags at all"]
        if "good" in first or "good" in second:
            return [pairwise_completion("A" if "good" in first else "B")]
        if "bad" in first or "bad" in second:
            return [pairwise_completion("B" if "bad" in first else "A")]
        return [pairwise_completion("A")]

    return script


def by_hand_brpo(rollout: str, reference: str, inconsistent: float) -> float:
    """The script's verdict in both orders, read as BRPO: a win in both orders +1, a loss in both −1."""
    rank = {"good": 2, "bad": 0}
    strength = next((v for k, v in rank.items() if k in rollout), 1)
    against = next((v for k, v in rank.items() if k in reference), 1)
    return 1.0 if strength > against else -1.0 if strength < against else inconsistent


async def groups(client: Any, **body: Any) -> dict[str, Any]:
    response = await client.post("/v1/groups", json={"task": "creative_writing", **body})
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_brpo_judges_each_rollout_against_a_seeded_reference_in_both_orders(make_client, decode) -> None:
    for inconsistent in (0.0, -1.0):
        async with make_client(quality_judge(decode)) as (client, fake):
            body = {"mode": "brpo", "reference_seed": 7, "inconsistent_reward": inconsistent,
                    "groups": [{"id": "g", "prompt": "Write.", "rollouts": ROLLOUTS}]}
            first, again = await groups(client, **body), await groups(client, **body)
        group = first["groups"][0]
        reference = group["reference"]
        assert again["groups"][0]["reference"] == reference  # the same seed draws the same reference
        rewards = [rollout["reward"] for rollout in group["rollouts"]]
        expected = [0.0 if i == reference else by_hand_brpo(text, ROLLOUTS[reference], inconsistent)
                    for i, text in enumerate(ROLLOUTS)]
        assert rewards == expected
        assert [r["reference"] for r in group["rollouts"]] == [i == reference for i in range(4)]
        judged = fake.requests[: 2 * 3]  # the first call: 3 comparisons, both orders each
        shown = sorted((block(decode(b), "response_a"), block(decode(b), "response_b")) for b in judged)
        others = [text for i, text in enumerate(ROLLOUTS) if i != reference]
        assert shown == sorted([(t, ROLLOUTS[reference]) for t in others] + [(ROLLOUTS[reference], t) for t in others])
        assert first["failures"] == {"policy": "mask", "failed": 0, "retried": 0, "recovered": 0, "filled": {}}


async def test_different_seeds_can_draw_different_references(make_client, decode) -> None:
    async with make_client(quality_judge(decode)) as (client, _):
        drawn = set()
        for seed in range(8):
            answer = await groups(client, mode="brpo", reference_seed=seed,
                                  groups=[{"id": "g", "prompt": "Write.", "rollouts": ROLLOUTS}])
            drawn.add(answer["groups"][0]["reference"])
    assert len(drawn) > 1


async def test_brpo_against_a_given_reference_judges_every_rollout(make_client, decode) -> None:
    async with make_client(quality_judge(decode)) as (client, _):
        answer = await groups(client, mode="brpo", groups=[
            {"prompt": "Write.", "rollouts": ["good", "bad", "meh"], "reference": "meh reference"}])
    group = answer["groups"][0]
    assert group["reference"] is None
    assert [(r["reward"], r["reference"], r["comparisons"]) for r in group["rollouts"]] == [
        (1.0, False, 1), (-1.0, False, 1), (0.0, False, 1)]


async def test_pointwise_groups_score_and_normalise_within_each_group(make_client, decode) -> None:
    async with make_client(quality_judge(decode)) as (client, _):
        answer = await groups(client, mode="pointwise", normalize=True, votes=2, groups=[
            {"prompt": "A.", "rollouts": ["good", "bad", "meh"]}, {"prompt": "B.", "rollouts": ["meh"]}])
    first, second = answer["groups"]
    assert [r["score"] for r in first["rollouts"]] == [9.0, 1.0, 5.0]
    spread = math.sqrt(((9 - 5) ** 2 + (1 - 5) ** 2 + 0) / 3)
    advantages = [r["advantage"] for r in first["rollouts"]]
    assert all(math.isclose(a, e, rel_tol=1e-5) for a, e in zip(advantages, [4 / spread, -4 / spread, 0.0],
                                                               strict=True))
    assert second["rollouts"][0]["advantage"] == 0.0 and second["rollouts"][0]["reward"] == 5.0


async def test_round_robin_win_rates_and_bradley_terry(make_client, decode) -> None:
    rollouts = ["good", "meh", "bad"]
    async with make_client(quality_judge(decode)) as (client, fake):
        rates = await groups(client, mode="round_robin", groups=[{"prompt": "W.", "rollouts": rollouts}])
        strengths = await groups(client, mode="round_robin", rank_by="bradley_terry",
                                 groups=[{"prompt": "W.", "rollouts": rollouts}])
    assert len(fake.requests) == 2 * 2 * 3  # two calls, three pairs, both orders
    # good beats both in both orders (1.0), meh loses to good and beats bad (0.5), bad loses both (0.0).
    assert [r["reward"] for r in rates["groups"][0]["rollouts"]] == [1.0, 0.5, 0.0]
    assert [r["comparisons"] for r in rates["groups"][0]["rollouts"]] == [2, 2, 2]
    bt = [r["reward"] for r in strengths["groups"][0]["rollouts"]]
    assert bt[0] > bt[1] > bt[2] and math.isclose(sum(bt), 0.0, abs_tol=1e-9)
    assert math.isclose(bt[0], -bt[2], rel_tol=1e-6)  # the mirror-image record gives the mirror-image strength


async def test_failed_judgments_are_masked_by_default_and_counted(make_client, decode) -> None:
    rollouts = ["good", "broken", "meh"]
    async with make_client(quality_judge(decode)) as (client, _):
        masked = await groups(client, mode="pointwise", groups=[{"prompt": "W.", "rollouts": rollouts}])
        neutral = await groups(client, mode="pointwise", on_failure={"policy": "neutral", "neutral_value": -0.5},
                               groups=[{"prompt": "W.", "rollouts": rollouts}])
        metrics = (await client.get("/metrics")).text
    broken = masked["groups"][0]["rollouts"][1]
    assert broken["status"] == "parse_failed" and broken["reward"] is None and broken["filled"] == "masked"
    assert masked["failures"] == {"policy": "mask", "failed": 1, "retried": 0, "recovered": 0,
                                  "filled": {"masked": 1}}
    assert [r["reward"] for r in neutral["groups"][0]["rollouts"]] == [9.0, -0.5, 5.0]
    assert neutral["groups"][0]["rollouts"][1]["filled"] == "neutral"
    assert ('genrm_failed_rewards_total{filled="masked",policy="mask",route="/v1/groups",status="parse_failed"} 1.0'
            in metrics)


async def test_the_error_policy_fails_the_request_and_names_the_rollout(make_client, decode) -> None:
    async with make_client(quality_judge(decode)) as (client, _):
        response = await client.post("/v1/groups", json={
            "task": "chat", "mode": "brpo", "on_failure": {"policy": "error"},
            "groups": [{"prompt": "W.", "rollouts": ["good", "broken"], "reference": "meh"}]})
    error = response.json()["error"]
    assert response.status_code == 502 and error["type"] == "judgment_failed"
    assert error["param"] == "groups.0.rollouts.1" and "parse_failed" in error["message"]


async def test_retry_judges_failed_items_again_and_reports_the_recovery(make_client, decode) -> None:
    calls: dict[str, int] = {}

    def flaky(body: dict[str, Any]) -> list[str]:
        response = block(decode(body), "response")
        calls[response] = calls.get(response, 0) + 1
        return ["garbage"] if response == "flaky" and calls[response] == 1 else [pointwise_completion("6")]

    async with make_client(flaky) as (client, fake):
        answer = await groups(client, mode="pointwise", on_failure={"policy": "retry", "max_retries": 2},
                              sampling={"seed": 5}, groups=[{"prompt": "W.", "rollouts": ["steady", "flaky"]}])
    assert [r["reward"] for r in answer["groups"][0]["rollouts"]] == [6.0, 6.0]
    assert answer["failures"] == {"policy": "retry", "failed": 0, "retried": 1, "recovered": 1, "filled": {}}
    assert [body["seed"] for body in fake.requests] == [5, 5, 6]  # the retry moved the seed


async def test_the_deadline_keeps_finished_rollouts_and_times_out_the_rest(make_client, decode) -> None:
    async def slow_for_one(body: dict[str, Any]) -> list[str]:
        if "slow" in block(decode(body), "response"):
            await asyncio.sleep(30)
        return [pointwise_completion("8")]

    async with make_client(slow_for_one) as (client, _):
        answer = await groups(client, mode="pointwise", timeout_s=0.5,
                              groups=[{"prompt": "W.", "rollouts": ["quick", "slow", "also quick"]}])
    rollouts = answer["groups"][0]["rollouts"]
    assert [(r["status"], r["reward"]) for r in rollouts] == [("ok", 8.0), ("timeout", None), ("ok", 8.0)]
    assert rollouts[1]["filled"] == "masked" and "0.5 s" in rollouts[1]["error"]["message"]


async def test_groups_that_cannot_be_judged_are_refused_with_the_field(make_client) -> None:
    async with make_client() as (client, _):
        lonely = await client.post("/v1/groups", json={"task": "chat", "mode": "brpo",
                                                       "groups": [{"prompt": "W.", "rollouts": ["only one"]}]})
        twice = await client.post("/v1/groups", json={"task": "chat", "mode": "pointwise", "groups": [
            {"id": "a", "prompt": "W.", "rollouts": ["x"]}, {"id": "a", "prompt": "V.", "rollouts": ["y"]}]})
        given = await client.post("/v1/groups", json={"task": "chat", "mode": "round_robin", "groups": [
            {"prompt": "W.", "rollouts": ["x", "y"], "reference": "z"}]})
    assert lonely.status_code == 422 and "needs at least 2" in lonely.json()["error"]["message"]
    assert twice.status_code == 422 and twice.json()["error"]["param"] == "groups.1.id"
    assert given.status_code == 422 and "it is for 'brpo'" in given.json()["error"]["message"]


async def test_each_group_stays_on_one_engine_and_groups_spread(make_client, decode) -> None:
    engines = [{"kind": "external", "url": "http://engine-a:8000"}, {"kind": "external", "url": "http://engine-b:8000"}]
    async with make_client(quality_judge(decode), engines=engines) as (client, fake):
        await groups(client, mode="round_robin", groups=[{"prompt": "One prompt.", "rollouts": ROLLOUTS}])
        one_group = set(fake.hosts)
        fake.hosts.clear()
        await groups(client, mode="pointwise", groups=[{"prompt": f"Prompt {n}.", "rollouts": ["meh", "good"]}
                                                       for n in range(8)])
        too_many = await client.post("/v1/groups", json={"task": "chat", "mode": "round_robin", "groups": [
            {"prompt": "P.", "rollouts": [f"r{n}" for n in range(7)]}]})  # 21 pairs, over the limit of 16
    assert len(one_group) == 1  # all 6 pairs × 2 orders share the group's prompt prefix
    assert set(fake.hosts) == {"engine-a", "engine-b"}
    error = too_many.json()["error"]
    assert too_many.status_code == 413 and error["param"] == "groups" and "21 judged items" in error["message"]
