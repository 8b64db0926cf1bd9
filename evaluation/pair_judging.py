"""Judge one pair in one mode through the service, and turn its answer into an `ItemResult`.

Pointwise: one `/v1/score` request with the chosen and the rejected response as two items, `votes` samples
each. Pairwise: one `/v1/compare` request with position swap, `votes` samples per order; which response is
`A` is drawn per pair from the seed, so a judge that favours a label and one that favours a position are told
apart. Every judgment comes back (`include_judgments`), so `metrics` can evaluate any vote count up to `votes`.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

from evaluation.pairs import Pair
from evaluation.results import Cost, ItemResult, Mode, Vote
from genrm_client import AsyncJudgeClient, CompareItemIn, CompareRequest, ScoreItemIn, ScoreRequest
from genrm_wire.judging import ChatMessageIn, ItemOut, JudgmentOut, SamplingIn, Usage, VerdictMode


@dataclass(frozen=True)
class JudgeSettings:
    votes: int
    seed: int
    model: str | None = None
    max_tokens: int | None = None
    verdict: VerdictMode = "sampled"

    def sampling(self) -> SamplingIn:
        return SamplingIn(seed=self.seed, max_tokens=self.max_tokens)


def chosen_is_a(pair: Pair, seed: int) -> bool:
    """Which label the chosen response gets: a fair coin per pair, the same on every rerun with this seed."""
    return hashlib.sha256(f"{seed}:{pair.id}".encode()).digest()[0] % 2 == 0


async def judge(client: AsyncJudgeClient, pair: Pair, mode: Mode, settings: JudgeSettings) -> ItemResult:
    started = time.monotonic()
    if mode == "pointwise":
        result = await _pointwise(client, pair, settings)
    else:
        result = await _pairwise(client, pair, settings)
    result.cost.latency_s = round(time.monotonic() - started, 3)
    return result


async def _pointwise(client: AsyncJudgeClient, pair: Pair, settings: JudgeSettings) -> ItemResult:
    request = ScoreRequest(
        model=settings.model, task=pair.task, votes=settings.votes, include_judgments=True, verdict=settings.verdict,
        sampling=settings.sampling(), items=[ScoreItemIn(id="chosen", prompt=_prompt(pair), response=pair.chosen),
                                             ScoreItemIn(id="rejected", prompt=_prompt(pair), response=pair.rejected)],
    )
    answer = await client.score(request)
    chosen, rejected = answer.items
    result = _record(pair, "pointwise", f"{answer.model.name}:{answer.model.version}", answer.usage,
                     [chosen, rejected], judgments=sum(len(item.judgments or []) for item in answer.items))
    result.chosen_scores, result.rejected_scores = chosen.scores, rejected.scores
    return result


async def _pairwise(client: AsyncJudgeClient, pair: Pair, settings: JudgeSettings) -> ItemResult:
    a_is_chosen = chosen_is_a(pair, settings.seed)
    a, b = (pair.chosen, pair.rejected) if a_is_chosen else (pair.rejected, pair.chosen)
    request = CompareRequest(
        model=settings.model, task=pair.task, votes=settings.votes, swap=True, include_judgments=True,
        verdict=settings.verdict, sampling=settings.sampling(),
        items=[CompareItemIn(id="pair", prompt=_prompt(pair), response_a=a, response_b=b)],
    )
    answer = await client.compare(request)
    item = answer.items[0]
    result = _record(pair, "pairwise", f"{answer.model.name}:{answer.model.version}", answer.usage, [item],
                     judgments=len(item.judgments or []))
    if settings.verdict == "sampled":
        result.votes = [Vote(order=vote.order, chosen_first=(vote.order == "ab") == a_is_chosen,
                             winner="chosen" if (vote.winner == "A") == a_is_chosen else "rejected")
                        for vote in item.votes]
    else:
        result.votes = _read_votes(item.judgments or [], a_is_chosen)
    return result


def _read_votes(judgments: list[JudgmentOut], a_is_chosen: bool) -> list[Vote]:
    """A probability verdict's judgments as votes: each read one credits the chosen response with its probability
    (`p` is as shown, so A is the response shown first); its winner is the likelier side."""
    votes = []
    for judgment in judgments:
        if judgment.p is None or judgment.order is None:
            continue
        chosen_first = (judgment.order == "ab") == a_is_chosen
        p_chosen = judgment.p["A"] if chosen_first else judgment.p["B"]
        votes.append(Vote(order=judgment.order, chosen_first=chosen_first, p_chosen=p_chosen,
                          winner="chosen" if p_chosen >= 0.5 else "rejected"))
    return votes


def _prompt(pair: Pair) -> str | list[ChatMessageIn]:
    if isinstance(pair.prompt, str):
        return pair.prompt
    return [ChatMessageIn.model_validate(message) for message in pair.prompt]


def _record(pair: Pair, mode: Mode, model: str, usage: Usage, items: list[ItemOut], judgments: int) -> ItemResult:
    failures: dict[str, int] = {}
    for item in items:
        for category, count in item.parse_failures.items():
            failures[category] = failures.get(category, 0) + count
    failed = [item for item in items if item.status != "ok"]
    error = "; ".join(f"{item.status} ({item.id})" + (f": {item.error.message}" if item.error else "")
                      for item in failed) or None
    return ItemResult(
        **pair.describe(), mode=mode, status="failed" if failed else "ok", error=error, parse_failures=failures,
        flags=sorted({flag.kind for item in items for flag in item.flags}), model=model,
        cost=Cost(**usage.model_dump(), judgments=judgments),
    )


def failed(pair: Pair, mode: Mode, error: str) -> ItemResult:
    """The record of a pair whose request the service refused or could not answer."""
    return ItemResult(**pair.describe(), mode=mode, status="failed", error=error)
