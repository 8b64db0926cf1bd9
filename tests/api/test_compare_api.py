"""/v1/compare: position swap, vote mapping and consistency, vLLM faked at the transport."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.fakes import pairwise_completion

PAIR = {"prompt": "2+2?", "response_a": "GOOD 4", "response_b": "BAD 5"}


def prefers(marker: str, decode: Callable[[dict[str, Any]], str]) -> Callable[[dict[str, Any]], list[str]]:
    """A judge that always picks the response containing `marker`, in whichever position it is shown."""

    def script(body: dict[str, Any]) -> list[str]:
        text = decode(body)
        first = text.split("<response_a>")[-1].split("</response_a>")[0]
        return [pairwise_completion("A" if marker in first else "B")]

    return script


async def test_both_orders_are_judged_and_mapped_back(make_client, decode) -> None:
    async with make_client(prefers("GOOD", decode)) as (client, fake):
        response = await client.post("/v1/compare", json={"task": "chat", "votes": 3, "items": [PAIR]})
    item = response.json()["items"][0]
    assert response.status_code == 200
    assert len(fake.requests) == 2 and all(body["n"] == 3 for body in fake.requests)
    shown_first = sorted(decode(b).split("<response_a>")[-1].split("</response_a>")[0].strip() for b in fake.requests)
    assert shown_first == ["BAD 5", "GOOD 4"]
    assert item["preference"] == "A" and item["p_a"] == 1.0 and item["consistent"] is True
    assert [(v["order"], v["winner"]) for v in item["votes"]] == [("ab", "A")] * 3 + [("ba", "A")] * 3
    assert "(A|B)" in fake.requests[0]["structured_outputs"]["regex"]


async def test_a_position_biased_judge_is_inconsistent_and_tied(make_client) -> None:
    async with make_client(lambda _: [pairwise_completion("A")]) as (client, _):
        response = await client.post("/v1/compare", json={"task": "chat", "votes": 2, "items": [PAIR]})
    item = response.json()["items"][0]
    assert item["consistent"] is False
    assert item["p_a"] == 0.5 and item["preference"] == "tie"
    assert [v["winner"] for v in item["votes"]] == ["A", "A", "B", "B"]


async def test_without_swap_one_order_and_no_consistency(make_client, decode) -> None:
    async with make_client(prefers("BAD", decode)) as (client, fake):
        response = await client.post(
            "/v1/compare", json={"task": "chat", "votes": 2, "swap": False, "items": [PAIR], "include_judgments": True}
        )
    item = response.json()["items"][0]
    assert len(fake.requests) == 1
    assert item["preference"] == "B" and item["p_a"] == 0.0 and item["consistent"] is None
    assert [(j["order"], j["winner"]) for j in item["judgments"]] == [("ab", "B"), ("ab", "B")]


async def test_one_failing_pair_does_not_fail_the_batch(make_client, decode) -> None:
    def script(body: dict[str, Any]) -> list[str]:
        return ["<answer>A</answer>"] if "MALFORMED" in decode(body) else [pairwise_completion("B")]

    async with make_client(script, constrained=False) as (client, _):
        response = await client.post("/v1/compare", json={"task": "chat", "items": [
            PAIR, {"prompt": "MALFORMED", "response_a": "x", "response_b": "y"}]})
    ok, failed = response.json()["items"]
    assert ok["status"] == "ok" and ok["consistent"] is False
    assert failed["status"] == "parse_failed" and failed["parse_failures"] == {"missing_tags": 2}
