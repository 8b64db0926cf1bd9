"""`PointwiseJudge`: scores each item with n votes of the pointwise format and aggregates them."""

from __future__ import annotations

import math
import statistics
from typing import Any

from models.chat import ChatMessage
from models.formats import POINTWISE, ParseFailure, PointwiseVerdict
from service.api.protocol import AdaptiveIn, ItemError, JudgmentOut, ScoreItemIn, ScoreItemOut, ScoreRequest
from service.judging.aggregation import Aggregate, aggregate_scores
from service.judging.batch import BatchJudge
from service.judging.cache import prompt_affinity
from service.judging.requests import to_conversation
from service.judging.runner import ItemFailure, JudgingContext, Vote, failure_counts

ROUTE = "/v1/score"


class PointwiseJudge(BatchJudge[ScoreItemOut]):
    route = ROUTE
    format_name = POINTWISE.name
    item_out = ScoreItemOut

    async def score(self, request: ScoreRequest, context: JudgingContext) -> list[ScoreItemOut]:
        return await self.judge_batch(request, context)

    def request_shape(self, request: ScoreRequest) -> dict[str, Any]:
        return {"votes": request.votes, "aggregate": request.aggregate}

    def item_key(self, item: ScoreItemIn) -> dict[str, Any]:
        return {"prompt": item.prompt, "response": item.response}

    async def judge_item(
        self, item_id: str, item: ScoreItemIn, request: ScoreRequest, context: JudgingContext
    ) -> ScoreItemOut:
        messages = POINTWISE.build_messages(
            request.task, context.rubrics, to_conversation(item.prompt), item.response,
            context.model.template.special_tokens,
        )
        try:
            votes = await self._draw(context, messages, request, prompt_affinity(context, request.task, item.prompt))
        except ItemFailure as failure:
            return self.failed(item_id, failure)
        return _aggregate_item(item_id, votes, request.aggregate, request.include_judgments)

    async def _draw(
        self, context: JudgingContext, messages: list[ChatMessage], request: ScoreRequest, affinity: str
    ) -> list[Vote[PointwiseVerdict]]:
        prompt = self._runner.prepare(context, POINTWISE, messages, affinity)
        if request.adaptive is None:
            return await self._runner.draw(context, prompt, request.votes)
        votes: list[Vote[PointwiseVerdict]] = []
        while len(votes) < request.votes:
            wanted = min(request.adaptive.round_votes, request.votes - len(votes))
            votes += await self._runner.draw(context, prompt, wanted)
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
