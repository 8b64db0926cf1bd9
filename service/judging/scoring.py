"""`PointwiseJudge`: scores each item with n votes of the pointwise format and aggregates them."""

from __future__ import annotations

import math
import statistics

from models.chat import ChatMessage
from models.formats import POINTWISE, ParseFailure, PointwiseVerdict
from service.api.protocol import AdaptiveIn, ItemError, JudgmentOut, ScoreItemIn, ScoreItemOut, ScoreRequest
from service.judging.aggregation import Aggregate, aggregate_scores
from service.judging.cache import (
    JudgmentCache,
    cache_for,
    content_key,
    item_ids,
    prompt_affinity,
    request_key_parts,
    run_deduplicated,
)
from service.judging.requests import to_conversation
from service.judging.runner import ItemFailure, JudgingContext, JudgmentRunner, Vote, failure_counts, within_deadline
from service.metrics import Metrics

ROUTE = "/v1/score"


class PointwiseJudge:
    def __init__(self, runner: JudgmentRunner, cache: JudgmentCache, metrics: Metrics) -> None:
        self._runner = runner
        self._cache = cache
        self._metrics = metrics

    async def score(self, request: ScoreRequest, context: JudgingContext) -> list[ScoreItemOut]:
        ids = item_ids(request.items)
        shared = request_key_parts(request, context, POINTWISE.name, {"votes": request.votes,
                                                                      "aggregate": request.aggregate})
        keys = [content_key({**shared, "prompt": i.prompt, "response": i.response}) for i in request.items]
        return await run_deduplicated(
            ids, keys, lambda index: self._score_item(ids[index], request.items[index], request, context),
            cache_for(request, context, self._cache), request.dedup, ROUTE, self._metrics,
        )

    async def _score_item(
        self, item_id: str, item: ScoreItemIn, request: ScoreRequest, context: JudgingContext
    ) -> ScoreItemOut:
        def timed_out(message: str) -> ScoreItemOut:
            return ScoreItemOut(id=item_id, status="timeout", error=ItemError(type="timeout", message=message))

        return await within_deadline(context, self._judge(item_id, item, request, context), timed_out)

    async def _judge(
        self, item_id: str, item: ScoreItemIn, request: ScoreRequest, context: JudgingContext
    ) -> ScoreItemOut:
        messages = POINTWISE.build_messages(
            request.task, context.rubrics, to_conversation(item.prompt), item.response,
            context.model.template.special_tokens,
        )
        try:
            votes = await self._draw(context, messages, request, prompt_affinity(context, request.task, item.prompt))
        except ItemFailure as failure:
            return ScoreItemOut(id=item_id, status=failure.status,
                                error=ItemError(type=failure.status, message=failure.message))
        return _aggregate_item(item_id, votes, request.aggregate, request.include_judgments)

    async def _draw(
        self, context: JudgingContext, messages: list[ChatMessage], request: ScoreRequest, affinity: str
    ) -> list[Vote[PointwiseVerdict]]:
        if request.adaptive is None:
            return await self._runner.votes(context, POINTWISE, messages, request.votes, affinity)
        votes: list[Vote[PointwiseVerdict]] = []
        while len(votes) < request.votes:
            wanted = min(request.adaptive.round_votes, request.votes - len(votes))
            votes += await self._runner.votes(context, POINTWISE, messages, wanted, affinity)
            if scores_agree(_scores(votes), request.adaptive):
                break
        return votes


def scores_agree(scores: list[float], adaptive: AdaptiveIn) -> bool:
    """At least two scores whose mean has a standard error of at most `max_stderr`."""
    if len(scores) < 2:
        return False
    return statistics.stdev(scores) / math.sqrt(len(scores)) <= adaptive.max_stderr


def _scores(votes: list[Vote[PointwiseVerdict]]) -> list[float]:
    return [v.outcome.score for v in votes if isinstance(v.outcome, PointwiseVerdict)]


def _aggregate_item(
    item_id: str, votes: list[Vote[PointwiseVerdict]], method: Aggregate, include_judgments: bool
) -> ScoreItemOut:
    scores = _scores(votes)
    judgments = [_judgment(v) for v in votes] if include_judgments else None
    failures = failure_counts(votes)
    if not scores:
        message = f"none of the {len(votes)} judgments could be parsed: {failures}"
        return ScoreItemOut(
            id=item_id, status="parse_failed", parse_failures=failures, judgments=judgments,
            error=ItemError(type="parse_failed", message=message),
        )
    score, spread = aggregate_scores(scores, method)
    return ScoreItemOut(
        id=item_id, status="ok", score=score, scores=scores, std=spread, votes_used=len(scores),
        parse_failures=failures, judgments=judgments,
    )


def _judgment(vote: Vote[PointwiseVerdict]) -> JudgmentOut:
    if isinstance(vote.outcome, ParseFailure):
        return JudgmentOut(
            text=vote.text, failure=vote.outcome.category.value, failure_detail=vote.outcome.detail,
            finish_reason=vote.finish_reason,
        )
    return JudgmentOut(text=vote.text, score=vote.outcome.score, finish_reason=vote.finish_reason)
