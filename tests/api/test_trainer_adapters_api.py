"""The trainer-shaped routes (OpenRLHF, slime), vLLM faked at the transport: the shapes, the scaling, the
reference from the label, and failed judgments filled and flagged rather than guessed."""

from __future__ import annotations

from typing import Any

from genrm_wire import OPENRLHF_MASKED_SCORE
from tests.api.test_groups_api import block, quality_judge

PROMPT = "<|im_start|>user\nWrite a line.<|im_end|>\n<|im_start|>assistant\n"


def query(response: str) -> str:
    return PROMPT + response + "<|im_end|>"


async def test_openrlhf_score_answers_its_shape_and_judges_only_the_response(make_client, decode) -> None:
    async with make_client(quality_judge(decode)) as (client, fake):
        response = await client.post("/v1/openrlhf/score?task=creative_writing&votes=2&reward_scale=2&reward_offset=-1",
                                     json={"query": [query("good line"), query("bad line")],
                                           "prompts": [PROMPT, PROMPT], "labels": ["", ""]})
    body = response.json()
    assert response.status_code == 200
    assert body["scores"] == [0.9, 0.1]  # score / 10
    assert [round(r, 6) for r in body["rewards"]] == [0.8, -0.8]  # 2 × unit − 1
    assert body["extra_logs"] == {"judge_unit": [0.9, 0.1], "judge_failed": [0.0, 0.0],
                                  "judge_flagged": [0.0, 0.0], "judge_asked": [1.0, 1.0]}
    judged = [decode(request) for request in fake.requests]
    assert sorted(block(text, "response") for text in judged) == ["bad line", "good line"]
    assert all("Write a line." in block(text, "prompt") and "im_start" not in block(text, "prompt")
               for text in judged)
    assert all(request["n"] == 2 for request in fake.requests)


async def test_openrlhf_compare_judges_against_the_label_in_both_orders(make_client, decode) -> None:
    async with make_client(quality_judge(decode)) as (client, fake):
        response = await client.post("/v1/openrlhf/compare", json={
            "query": [query("good line"), query("meh line")], "prompts": [PROMPT, PROMPT],
            "labels": ["bad reference", "good reference"]})
    assert response.json()["scores"] == [1.0, 0.0] and response.json()["rewards"] == [1.0, 0.0]
    assert len(fake.requests) == 4
    assert {block(decode(r), "response_b") for r in fake.requests} >= {"bad reference", "good reference"}


async def test_openrlhf_spare_servers_get_empty_lists(make_client) -> None:
    async with make_client() as (client, fake):
        response = await client.post("/v1/openrlhf/score", json={"query": [], "prompts": [], "labels": []})
    assert response.status_code == 200 and fake.requests == []
    assert response.json() == {"rewards": [], "scores": [], "extra_logs": {
        "judge_unit": [], "judge_failed": [], "judge_flagged": [], "judge_asked": []}}


async def test_openrlhf_failed_judgments_are_flagged_and_sink_below_the_filter(make_client, decode) -> None:
    body = {"query": [query("good"), query("broken")], "prompts": [PROMPT, PROMPT]}
    async with make_client(quality_judge(decode)) as (client, _):
        masked = (await client.post("/v1/openrlhf/score?neutral_value=0.25", json=body)).json()
        neutral = (await client.post("/v1/openrlhf/score?on_failure=neutral&neutral_value=0.25", json=body)).json()
        refused = await client.post("/v1/openrlhf/score?on_failure=error", json=body)
        metrics = (await client.get("/metrics")).text
    assert masked["rewards"] == [0.9, 0.25] and masked["scores"] == [0.9, OPENRLHF_MASKED_SCORE]
    assert masked["extra_logs"]["judge_failed"] == [0.0, 1.0]
    assert neutral["rewards"] == [0.9, 0.25] and neutral["scores"] == [0.9, 0.25]
    assert refused.status_code == 502 and refused.json()["error"]["param"] == "query.1"
    assert ('genrm_failed_rewards_total{filled="neutral",policy="mask",route="/v1/openrlhf/score",'
            'status="parse_failed"} 1.0') in metrics


async def test_openrlhf_refuses_what_it_cannot_delimit_or_compare(make_client) -> None:
    async with make_client() as (client, fake):
        foreign = await client.post("/v1/openrlhf/score", json={"query": ["no prompt here"], "prompts": [PROMPT]})
        unlabeled = await client.post("/v1/openrlhf/compare", json={"query": [query("x")], "prompts": [PROMPT],
                                                                     "labels": [""]})
        options = await client.post("/v1/openrlhf/score?votes=0", json={"query": [], "prompts": []})
    assert foreign.status_code == 422 and foreign.json()["error"]["param"] == "query.0"
    assert unlabeled.status_code == 422 and unlabeled.json()["error"]["param"] == "labels.0"
    assert options.status_code == 422 and options.json()["error"]["param"] == "query.votes"  # a query parameter
    assert fake.requests == []


async def test_slime_score_and_compare_answer_a_reward_key(make_client, decode) -> None:
    async with make_client(quality_judge(decode)) as (client, _):
        scored = await client.post("/v1/slime/score?task=creative_writing",
                                   json={"prompt": PROMPT, "response": "good line", "label": None})
        compared = await client.post("/v1/slime/compare", json={
            "prompt": [{"role": "user", "content": "Write a line."}], "response": "bad line",
            "label": "good reference", "metadata": {"ignored": True}})
        failed = await client.post("/v1/slime/score?neutral_value=-1",
                                   json={"prompt": "Write.", "response": "broken"})
    assert scored.json() == {"reward": 0.9, "status": "ok", "unit": 0.9, "judge_failed": False, "filled": None,
                             "error": None, "mode": "score", "flags": [], "decided_by": None}
    assert compared.json()["reward"] == 0.0 and compared.json()["mode"] == "compare"
    body: dict[str, Any] = failed.json()
    assert body["reward"] == -1 and body["judge_failed"] and body["filled"] == "neutral"
    assert body["status"] == "parse_failed"
