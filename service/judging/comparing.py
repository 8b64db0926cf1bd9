"""`PairwiseJudge`: judges each pair in both orders (position swap), n votes each, and tallies the votes."""

from __future__ import annotations

import asyncio

from models.formats import PAIRWISE, PairwiseVerdict
from service.judging import telemetry
from service.judging.aggregation import Label, Order, tally_votes, to_original_label
from service.judging.batch import BatchJudge
from service.judging.cache_keys import prompt_affinity
from service.judging.context import ItemFailure, JudgingContext
from service.judging.flagging import Responses
from service.judging.items import AdaptiveVoting, CompareItem, CompareOutcome, CompareSettings, MappedVote
from service.judging.runner import PreparedPrompt, Vote, failure_counts, judgment_of

ROUTE = "/v1/compare"
OrderedVotes = list[tuple[Order, Vote[PairwiseVerdict]]]


class PairwiseJudge(BatchJudge[CompareItem, CompareSettings, CompareOutcome]):
    route = ROUTE
    format_name = PAIRWISE.name
    outcome_type = CompareOutcome

    async def judge_item(
        self, item: CompareItem, settings: CompareSettings, context: JudgingContext
    ) -> CompareOutcome:
        orders: list[Order] = ["ab", "ba"] if settings.swap else ["ab"]
        affinity = prompt_affinity(context, item.prompt)
        votes: OrderedVotes = []
        try:
            prompts = {order: self._prepare(order, item, context, affinity) for order in orders}
            while len(votes) < settings.votes * len(orders):
                wanted = settings.votes - len(votes) // len(orders)
                if settings.adaptive is not None:
                    wanted = min(settings.adaptive.round_votes, wanted)
                votes += await self._round(prompts, wanted, context)
                if settings.adaptive is not None and votes_agree(votes, settings.swap, settings.adaptive):
                    break
        except ItemFailure as failure:
            return self.failed(item.id, failure)
        outcome = _tally_item(item.id, votes, settings.swap, settings.include_judgments)
        telemetry.record_votes(self._metrics, self.route, settings.votes * len(orders), len(votes))
        telemetry.record_comparison(self._metrics, context, votes, outcome)
        return outcome

    def responses(self, item: CompareItem) -> Responses:
        return (("response_a", item.response_a), ("response_b", item.response_b))

    def penalized(self, item: CompareItem, fields: set[str]) -> CompareOutcome:
        """The flagged response loses; a tie when both are flagged."""
        if fields >= {"response_a", "response_b"}:
            return CompareOutcome(id=item.id, status="ok", preference="tie", p_a=0.5)
        if "response_a" in fields:
            return CompareOutcome(id=item.id, status="ok", preference="B", p_a=0.0)
        return CompareOutcome(id=item.id, status="ok", preference="A", p_a=1.0)

    async def _round(
        self, prompts: dict[Order, PreparedPrompt[PairwiseVerdict]], n: int, context: JudgingContext
    ) -> OrderedVotes:
        """`n` votes in every order, the orders' engine requests in flight together."""
        per_order = await asyncio.gather(*(self._runner.draw(context, prompt, n) for prompt in prompts.values()))
        return [(order, vote) for order, votes in zip(prompts, per_order, strict=True) for vote in votes]

    def _prepare(
        self, order: Order, item: CompareItem, context: JudgingContext, affinity: str
    ) -> PreparedPrompt[PairwiseVerdict]:
        first, second = (item.response_a, item.response_b) if order == "ab" else (item.response_b, item.response_a)
        messages = PAIRWISE.build_messages(context.task, context.rubrics, item.prompt, first, second,
                                           context.model.framing)
        return self._runner.prepare(context, PAIRWISE, messages, affinity)


def _mapped(votes: OrderedVotes) -> list[MappedVote]:
    return [
        MappedVote(order=order, winner=to_original_label(order, vote.outcome.winner))
        for order, vote in votes
        if isinstance(vote.outcome, PairwiseVerdict)
    ]


def votes_agree(votes: OrderedVotes, swapped: bool, adaptive: AdaptiveVoting) -> bool:
    """Both orders (when swapped) name the same winner, by a share of at least `min_margin`."""
    mapped = _mapped(votes)
    if not mapped:
        return False
    tally = tally_votes([(vote.order, vote.winner) for vote in mapped], swapped)
    return tally.consistent is not False and abs(2 * tally.p_a - 1) >= adaptive.min_margin


def _tally_item(item_id: str, votes: OrderedVotes, swapped: bool, include_judgments: bool) -> CompareOutcome:
    mapped = _mapped(votes)
    failures = failure_counts([vote for _, vote in votes])
    judgments = None
    if include_judgments:
        judgments = tuple(judgment_of(vote, order, winner=_winner(order, vote)) for order, vote in votes)
    if not mapped:
        message = f"none of the {len(votes)} judgments could be parsed: {failures}"
        return CompareOutcome(id=item_id, status="parse_failed", error=message, parse_failures=failures,
                              judgments=judgments)
    tally = tally_votes([(vote.order, vote.winner) for vote in mapped], swapped)
    return CompareOutcome(
        id=item_id, status="ok", preference=tally.preference, p_a=tally.p_a, consistent=tally.consistent,
        votes=tuple(mapped), votes_used=len(mapped), parse_failures=failures, judgments=judgments,
    )


def _winner(order: Order, vote: Vote[PairwiseVerdict]) -> Label | None:
    """The vote's winner mapped back to the request's labels; None for a parse failure."""
    return to_original_label(order, vote.outcome.winner) if isinstance(vote.outcome, PairwiseVerdict) else None
