"""The typed async client against the real gateway (vLLM faked at the engine's httpx boundary): it sends the
wire models and parses the service's answers into them."""

from __future__ import annotations

import pytest

from genrm_client import CompareItemIn, CompareRequest, JudgeRequestError, ScoreItemIn, ScoreRequest
from tests.api.conftest import JudgeFactory

ITEM = ScoreItemIn(id="q", prompt="What is 2 + 2?", response="4")
PAIR = CompareItemIn(id="p", prompt="Say hi.", response_a="Hi!", response_b="Go away.")


async def test_the_async_client_sends_and_parses_the_wire_models(make_judge: JudgeFactory) -> None:
    async with make_judge() as (judge, fake):
        scored = await judge.score(ScoreRequest(task="chat", items=[ITEM], votes=3))
        compared = await judge.compare(CompareRequest(task="chat", items=[PAIR], votes=2))
    assert scored.model.name == "fake-judge" and scored.usage.engine_requests == 1
    assert scored.items[0].score == 7.0 and scored.items[0].scores == [7.0, 7.0, 7.0]
    assert fake.requests[0]["n"] == 3
    assert compared.items[0].preference == "tie" and compared.items[0].consistent is False  # "A" in both orders
    assert [vote.order for vote in compared.items[0].votes] == ["ab", "ab", "ba", "ba"]


async def test_the_async_client_reads_models_readiness_and_rubrics(make_judge: JudgeFactory) -> None:
    async with make_judge() as (judge, _):
        models, ready, rubrics = await judge.models(), await judge.readiness(), await judge.rubrics()
    assert models.default == "fake-judge"
    assert models.models[0].formats == ["equivalence", "pairwise", "pointwise", "step", "step_list", "trajectory"]
    assert [engine.state for engine in models.models[0].engines] == ["ready"]
    assert ready.status == "ready" and ready.rubrics == len(rubrics.rubrics) > 0
    assert ready.rubric_library_hash == rubrics.library_hash


async def test_a_client_mistake_raises_with_the_field_and_the_fix(make_judge: JudgeFactory) -> None:
    async with make_judge() as (judge, _):
        with pytest.raises(JudgeRequestError) as raised:
            await judge.score(ScoreRequest(task="chat", items=[ITEM], votes=9))  # over max_votes=8
    assert raised.value.status == 413 and raised.value.param == "votes" and "lower votes" in raised.value.message
