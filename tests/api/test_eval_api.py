"""`genrm eval`'s runner against the real gateway in-process (vLLM faked at its httpx boundary): what it records
per pair, resuming, failures inside a run, 429s, and settings the service refuses."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from evaluation.figures import mode_summary
from evaluation.pair_judging import JudgeSettings, chosen_is_a
from evaluation.pairs import Pair
from evaluation.results import ResultLog
from evaluation.runner import EvalAborted, run_eval
from genrm_client import AsyncJudgeClient
from models.chat import ChatTemplate
from tests.api.conftest import gateway_transport
from tests.fakes import pairwise_completion, pointwise_completion, top_logprobs_answer

Decode = Callable[[dict[str, Any]], str]
PAIRS = [Pair(id=f"p{i}", source="toy", subset="even" if i % 2 == 0 else "odd", task="chat",
              prompt=f"Question {i}?", chosen=f"GOOD answer {i}", rejected=f"BAD answer {i}") for i in range(6)]


def fair_judge(decode: Decode, gate: asyncio.Event | None = None,
               held: asyncio.Event | None = None) -> Callable[[dict[str, Any]], Any]:
    """Pointwise: GOOD 8, BAD 3. Pairwise: the GOOD response, wherever it is shown. With `gate`, a request for
    pair p4 waits on it (to interrupt a run mid-way), and sets `held` once it does."""

    async def script(body: dict[str, Any]) -> list[str]:
        text = decode(body)
        if gate is not None and "answer 4" in text:
            if held is not None:
                held.set()
            await gate.wait()
        if "<response_a>" in text:
            first = text.split("<response_a>")[-1].split("</response_a>")[0]
            return [pairwise_completion("A" if "GOOD" in first else "B")]
        response = text.split("<response>")[-1].split("</response>")[0]
        return [pointwise_completion("8" if "GOOD" in response else "3")]

    return script


Wrap = Callable[[httpx.AsyncBaseTransport], httpx.AsyncBaseTransport]


@asynccontextmanager
async def judge_client(model_dir: Path, script: Any,
                       wrap: Wrap | None = None) -> AsyncIterator[tuple[AsyncJudgeClient, Any]]:
    async with gateway_transport(model_dir, script) as (transport, fake):
        client = AsyncJudgeClient("http://gateway", transport=wrap(transport) if wrap else transport, max_wait_s=30)
        async with client:
            yield client, fake


async def test_every_vote_is_recorded_in_the_pairs_own_terms(bundled_model_dir: Path, decode: Decode,
                                                             tmp_path: Path) -> None:
    log = ResultLog(tmp_path)
    async with judge_client(bundled_model_dir, fair_judge(decode)) as (client, fake):
        counts = await run_eval(client, PAIRS, ["pointwise", "pairwise"], JudgeSettings(votes=3, seed=7), log,
                                concurrency=3)
    assert (counts.judged, counts.failed, counts.already_done) == (12, 0, 0)
    records = log.read()
    pointwise, pairwise = records[("p0", "pointwise")], records[("p0", "pairwise")]
    assert pointwise.chosen_scores == [8.0] * 3 and pointwise.rejected_scores == [3.0] * 3
    assert pointwise.model == "fake-judge:v-test" and pointwise.cost.judgments == 6
    assert [v.winner for v in pairwise.votes] == ["chosen"] * 6 and pairwise.cost.judgments == 6
    a_is_chosen = chosen_is_a(PAIRS[0], 7)
    assert [v.chosen_first for v in pairwise.votes] == [a_is_chosen] * 3 + [not a_is_chosen] * 3
    assert {chosen_is_a(pair, 7) for pair in PAIRS} == {True, False}  # both labels carry the chosen response
    assert all(body["n"] == 3 and body["seed"] == 7 for body in fake.requests)
    summary = mode_summary(list(records.values()), "pairwise", [1, 3])
    assert summary.accuracy.value == 1.0
    assert summary.first_position_wins is not None and summary.first_position_wins.value == 0.5


async def test_an_interrupted_run_keeps_what_it_judged_and_a_rerun_judges_only_the_rest(
    bundled_model_dir: Path, decode: Decode, tmp_path: Path
) -> None:
    log, gate, held = ResultLog(tmp_path), asyncio.Event(), asyncio.Event()
    settings = JudgeSettings(votes=2, seed=0)
    async with judge_client(bundled_model_dir, fair_judge(decode, gate, held)) as (client, fake):
        run = asyncio.create_task(run_eval(client, PAIRS, ["pointwise"], settings, log, concurrency=1))
        await asyncio.wait_for(held.wait(), timeout=60)  # p4 is in flight, held by the gate
        assert len(log.read()) == 4  # one at a time: p0 to p3 are judged and written
        run.cancel()  # what Ctrl-C does to the asyncio run
        with pytest.raises(asyncio.CancelledError):
            await run
    assert sorted(pair for pair, _ in log.read()) == ["p0", "p1", "p2", "p3"]
    log.path.write_text(log.path.read_text() + '{"pair": "p5", "mode": "poi')  # a torn last line (killed mid-write)
    gate.set()
    async with judge_client(bundled_model_dir, fair_judge(decode, gate)) as (client, fake):
        counts = await run_eval(client, PAIRS, ["pointwise"], settings, log, concurrency=2)
    assert (counts.judged, counts.already_done) == (2, 4) and len(fake.requests) == 2 * 2  # two responses each
    assert sorted(pair for pair, _ in log.read()) == [f"p{i}" for i in range(6)]


async def test_a_pair_the_service_refuses_fails_alone_and_is_retried_by_the_next_run(
    bundled_model_dir: Path, decode: Decode, tmp_path: Path
) -> None:
    too_long = Pair(id="long", source="toy", subset="odd", task="chat", prompt="Q?", chosen="GOOD " * 3000,
                    rejected="BAD")
    log = ResultLog(tmp_path)
    async with judge_client(bundled_model_dir, fair_judge(decode)) as (client, _):
        counts = await run_eval(client, [*PAIRS[:2], too_long], ["pointwise", "pairwise"],
                                JudgeSettings(votes=1, seed=0), log, concurrency=2)
        assert (counts.judged, counts.failed) == (6, 2)
        records = log.read()
        assert records[("long", "pointwise")].status == "failed"
        assert "too_long (chosen)" in (records[("long", "pointwise")].error or "")
        assert records[("p1", "pairwise")].status == "ok"
        again = await run_eval(client, [*PAIRS[:2], too_long], ["pointwise", "pairwise"],
                               JudgeSettings(votes=1, seed=0), log, concurrency=2)
    assert (again.judged, again.failed, again.already_done) == (2, 2, 4)
    summary = mode_summary(list(log.read().values()), "pointwise", [1])
    assert summary.failed == 1 and summary.failures == {"too_long": 1} and summary.judged == 2


class ThrottleFirst(httpx.AsyncBaseTransport):
    """Answers the first `count` judging requests 429 with a short Retry-After, as an overloaded service does."""

    def __init__(self, inner: httpx.AsyncBaseTransport, count: int) -> None:
        self.inner, self.left, self.throttled = inner, count, 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.left > 0 and request.url.path.startswith("/v1/"):
            self.left -= 1
            self.throttled += 1
            return httpx.Response(429, headers={"Retry-After": "0.05"},
                                  json={"error": {"type": "overloaded", "message": "busy", "param": None}})
        return await self.inner.handle_async_request(request)


async def test_429s_slow_the_run_down_without_failing_a_pair(bundled_model_dir: Path, decode: Decode,
                                                             tmp_path: Path) -> None:
    throttles: list[ThrottleFirst] = []

    def wrap(inner: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
        throttles.append(ThrottleFirst(inner, count=5))
        return throttles[0]

    async with judge_client(bundled_model_dir, fair_judge(decode), wrap) as (client, _):
        counts = await run_eval(client, PAIRS, ["pairwise"], JudgeSettings(votes=1, seed=0), ResultLog(tmp_path),
                                concurrency=4)
    assert throttles[0].throttled == 5 and (counts.judged, counts.failed) == (6, 0)


async def test_settings_the_service_refuses_stop_the_run_with_the_reason(bundled_model_dir: Path, decode: Decode,
                                                                        tmp_path: Path) -> None:
    log = ResultLog(tmp_path)
    async with judge_client(bundled_model_dir, fair_judge(decode)) as (client, _):
        with pytest.raises(EvalAborted, match=r"refused the run's settings \(votes\)"):
            await run_eval(client, PAIRS, ["pointwise"], JudgeSettings(votes=9, seed=0), log, concurrency=2)
    assert log.read() == {}  # nothing recorded as a failure of the pairs


async def test_a_direct_verdict_run_records_each_orders_probability_for_the_chosen(
    bundled_model_dir: Path, decode: Decode, chat_template: ChatTemplate, tmp_path: Path
) -> None:
    """A position-biased judge, read directly: the first shown gets 0.7 whoever it is; the GOOD response gets
    +0.2 on top. In probability the bias cancels over the orders and the chosen response still wins."""
    shown_a, shown_b = chat_template.encode_literal("A")[0], chat_template.encode_literal("B")[0]

    def script(body: dict[str, Any]) -> httpx.Response:
        text = decode(body)
        first = text.split("<response_a>")[-1].split("</response_a>")[0]
        p_first = 0.8 if "GOOD" in first else 0.6
        return top_logprobs_answer(body, {shown_a: p_first, shown_b: 1 - p_first})

    log = ResultLog(tmp_path)
    async with judge_client(bundled_model_dir, script) as (client, fake):
        await run_eval(client, PAIRS, ["pairwise"], JudgeSettings(votes=1, seed=0, verdict="direct"), log,
                       concurrency=2)
    assert all(body["max_tokens"] == 1 for body in fake.requests)
    records = log.read()
    votes = records[("p0", "pairwise")].votes
    assert sorted(round(v.p_chosen or 0, 6) for v in votes) == [0.4, 0.8]  # shown second: 1 − 0.6
    summary = mode_summary(list(records.values()), "pairwise", [1])
    assert summary.accuracy.value == 1.0
    assert summary.first_position_wins is not None and abs(summary.first_position_wins.value - 0.7) < 1e-9
    assert summary.swap_consistency is not None and summary.swap_consistency.value == 0.0
