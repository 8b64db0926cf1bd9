"""`PairwiseJudge`: judges each pair in both orders (position swap), n votes each, and tallies the votes."""

from __future__ import annotations

import asyncio
from typing import Any

from models.formats import PAIRWISE, PairwiseVerdict, ParseFailure
from service.api.protocol import (
    AdaptiveIn,
    CompareItemIn,
    CompareItemOut,
    CompareRequest,
    ItemError,
    JudgmentOut,
    VoteOut,
)
from service.judging.aggregation import Order, tally_votes, to_original_label
from service.judging.batch import BatchJudge
from service.judging.cache import prompt_affinity
from service.judging.requests import to_conversation
from service.judging.runner import ItemFailure, JudgingContext, PreparedPrompt, Vote, failure_counts

ROUTE = "/v1/compare"
OrderedVotes = list[tuple[Order, Vote[PairwiseVerdict]]]


class PairwiseJudge(BatchJudge[CompareItemOut]):
    route = ROUTE
    format_name = PAIRWISE.name
    item_out = CompareItemOut

    async def compare(self, request: CompareRequest, context: JudgingContext) -> list[CompareItemOut]:
        return await self.judge_batch(request, context)

    def request_shape(self, request: CompareRequest) -> dict[str, Any]:
        return {"votes": request.votes, "swap": request.swap}

    def item_key(self, item: CompareItemIn) -> dict[str, Any]:
        return {"prompt": item.prompt, "a": item.response_a, "b": item.response_b}

    async def judge_item(
        self, item_id: str, item: CompareItemIn, request: CompareRequest, context: JudgingContext
    ) -> CompareItemOut:
        orders: list[Order] = ["ab", "ba"] if request.swap else ["ab"]
        affinity = prompt_affinity(context, request.task, item.prompt)
        votes: OrderedVotes = []
        try:
            prompts = {order: self._prepare(order, item, request, context, affinity) for order in orders}
            while len(votes) < request.votes * len(orders):
                wanted = request.votes - len(votes) // len(orders)
                if request.adaptive is not None:
                    wanted = min(request.adaptive.round_votes, wanted)
                votes += await self._round(prompts, wanted, context)
                if request.adaptive is not None and votes_agree(votes, request.swap, request.adaptive):
                    break
        except ItemFailure as failure:
            return self.failed(item_id, failure)
        return _tally_item(item_id, votes, request.swap, request.include_judgments)

    async def _round(
        self, prompts: dict[Order, PreparedPrompt[PairwiseVerdict]], n: int, context: JudgingContext
    ) -> OrderedVotes:
        """`n` votes in every order, the orders' engine requests in flight together."""
        per_order = await asyncio.gather(*(self._runner.draw(context, prompt, n) for prompt in prompts.values()))
        return [(order, vote) for order, votes in zip(prompts, per_order, strict=True) for vote in votes]

    def _prepare(
        self, order: Order, item: CompareItemIn, request: CompareRequest, context: JudgingContext, affinity: str
    ) -> PreparedPrompt[PairwiseVerdict]:
        first, second = (item.response_a, item.response_b) if order == "ab" else (item.response_b, item.response_a)
        messages = PAIRWISE.build_messages(
            request.task, context.rubrics, to_conversation(item.prompt), first, second,
            context.model.template.special_tokens,
        )
        return self._runner.prepare(context, PAIRWISE, messages, affinity)


def _mapped(votes: OrderedVotes) -> list[VoteOut]:
    return [
        VoteOut(order=order, winner=to_original_label(order, vote.outcome.winner))
        for order, vote in votes
        if isinstance(vote.outcome, PairwiseVerdict)
    ]


def votes_agree(votes: OrderedVotes, swapped: bool, adaptive: AdaptiveIn) -> bool:
    """Both orders (when swapped) name the same winner, by a share of at least `min_margin`."""
    mapped = _mapped(votes)
    if not mapped:
        return False
    tally = tally_votes([(vote.order, vote.winner) for vote in mapped], swapped)
    return tally.consistent is not False and abs(2 * tally.p_a - 1) >= adaptive.min_margin


def _tally_item(item_id: str, votes: OrderedVotes, swapped: bool, include_judgments: bool) -> CompareItemOut:
    mapped = _mapped(votes)
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
