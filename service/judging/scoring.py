"""`PointwiseJudge`: scores each item with n votes of the pointwise format and aggregates them."""

from __future__ import annotations

import asyncio

from models.formats import POINTWISE, ParseFailure, PointwiseVerdict
from service.api.protocol import ItemError, JudgmentOut, ScoreItemIn, ScoreItemOut, ScoreRequest
from service.judging.aggregation import Aggregate, aggregate_scores
from service.judging.requests import to_conversation
from service.judging.runner import ItemFailure, JudgingContext, JudgmentRunner, Vote, failure_counts


class PointwiseJudge:
    def __init__(self, runner: JudgmentRunner) -> None:
        self._runner = runner

    async def score(self, request: ScoreRequest, context: JudgingContext) -> list[ScoreItemOut]:
        items = (self._score_item(index, item, request, context) for index, item in enumerate(request.items))
        return list(await asyncio.gather(*items))

    async def _score_item(
        self, index: int, item: ScoreItemIn, request: ScoreRequest, context: JudgingContext
    ) -> ScoreItemOut:
        item_id = item.id if item.id is not None else str(index)
        messages = POINTWISE.build_messages(
            request.task, context.rubrics, to_conversation(item.prompt), item.response,
            context.model.template.special_tokens,
        )
        try:
            votes = await self._runner.votes(context, POINTWISE, messages, request.votes)
        except ItemFailure as failure:
            return ScoreItemOut(id=item_id, status=failure.status, error=ItemError(type=failure.status,
                                                                                   message=failure.message))
        return _aggregate_item(item_id, votes, request.aggregate, request.include_judgments)


def _aggregate_item(
    item_id: str, votes: list[Vote[PointwiseVerdict]], method: Aggregate, include_judgments: bool
) -> ScoreItemOut:
    scores = [v.outcome.score for v in votes if isinstance(v.outcome, PointwiseVerdict)]
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
