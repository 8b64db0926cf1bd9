"""`PairwiseJudge`: judges each pair in both orders (position swap), n votes each, and tallies the votes."""

from __future__ import annotations

import asyncio

from models.formats import PAIRWISE, PairwiseVerdict, ParseFailure
from service.api.protocol import (
    CompareItemIn,
    CompareItemOut,
    CompareRequest,
    ItemError,
    JudgmentOut,
    VoteOut,
)
from service.judging.aggregation import Order, tally_votes, to_original_label
from service.judging.requests import to_conversation
from service.judging.runner import ItemFailure, JudgingContext, JudgmentRunner, Vote, failure_counts


class PairwiseJudge:
    def __init__(self, runner: JudgmentRunner) -> None:
        self._runner = runner

    async def compare(self, request: CompareRequest, context: JudgingContext) -> list[CompareItemOut]:
        items = (self._compare_item(index, item, request, context) for index, item in enumerate(request.items))
        return list(await asyncio.gather(*items))

    async def _compare_item(
        self, index: int, item: CompareItemIn, request: CompareRequest, context: JudgingContext
    ) -> CompareItemOut:
        item_id = item.id if item.id is not None else str(index)
        orders: list[Order] = ["ab", "ba"] if request.swap else ["ab"]
        try:
            per_order = await asyncio.gather(*(self._judge_order(order, item, request, context) for order in orders))
        except ItemFailure as failure:
            return CompareItemOut(
                id=item_id, status=failure.status, error=ItemError(type=failure.status, message=failure.message)
            )
        ordered_votes = [(order, vote) for order, votes in zip(orders, per_order, strict=True) for vote in votes]
        return _tally_item(item_id, ordered_votes, request.swap, request.include_judgments)

    async def _judge_order(
        self, order: Order, item: CompareItemIn, request: CompareRequest, context: JudgingContext
    ) -> list[Vote[PairwiseVerdict]]:
        first, second = (item.response_a, item.response_b) if order == "ab" else (item.response_b, item.response_a)
        messages = PAIRWISE.build_messages(
            request.task, context.rubrics, to_conversation(item.prompt), first, second,
            context.model.template.special_tokens,
        )
        return await self._runner.votes(context, PAIRWISE, messages, request.votes)


def _tally_item(
    item_id: str, votes: list[tuple[Order, Vote[PairwiseVerdict]]], swapped: bool, include_judgments: bool
) -> CompareItemOut:
    mapped = [
        VoteOut(order=order, winner=to_original_label(order, vote.outcome.winner))
        for order, vote in votes
        if isinstance(vote.outcome, PairwiseVerdict)
    ]
    failures = failure_counts([vote for _, vote in votes])
    judgments = [_judgment(order, vote) for order, vote in votes] if include_judgments else None
    if not mapped:
        return CompareItemOut(
            id=item_id, status="parse_failed", parse_failures=failures, judgments=judgments,
            error=ItemError(type="parse_failed", message=f"none of the {len(votes)} judgments could be "
                            f"parsed: {failures}"),
        )
    tally = tally_votes([(vote.order, vote.winner) for vote in mapped], swapped)
    return CompareItemOut(
        id=item_id, status="ok", preference=tally.preference, p_a=tally.p_a, consistent=tally.consistent,
        votes=mapped, votes_used=len(mapped), parse_failures=failures, judgments=judgments,
    )


def _judgment(order: Order, vote: Vote[PairwiseVerdict]) -> JudgmentOut:
    if isinstance(vote.outcome, ParseFailure):
        return JudgmentOut(
            text=vote.text, order=order, failure=vote.outcome.category.value,
            failure_detail=vote.outcome.detail, finish_reason=vote.finish_reason,
        )
    winner = to_original_label(order, vote.outcome.winner)
    return JudgmentOut(text=vote.text, order=order, winner=winner, finish_reason=vote.finish_reason)
