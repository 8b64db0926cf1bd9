"""`PairwiseJudge`: judges each pair in both orders (position swap), n votes each, and tallies the votes."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from models.formats import PAIRWISE, PairwiseVerdict
from service.judging import telemetry, verdict_reading
from service.judging.aggregation import Label, Order, tally_probabilities, tally_votes, to_original_label
from service.judging.batch import BatchJudge
from service.judging.cache_keys import prompt_affinity
from service.judging.context import ItemFailure, JudgingContext
from service.judging.flagging import Responses
from service.judging.items import (
    AdaptiveVoting,
    CompareItem,
    CompareOutcome,
    CompareSettings,
    Judgment,
    MappedVote,
)
from service.judging.runner import PreparedPrompt, Vote, failure_counts, judgment_of
from service.judging.verdict_reading import Distribution

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
        readings: list[Distribution | None] | None = None
        try:
            prompts = {order: self._prepare(order, item, context, affinity) for order in orders}
            if settings.verdict == "direct":
                direct = await self._direct(item.id, prompts, context, settings)
                telemetry.record_comparison(self._metrics, context, [], direct)
                return direct
            while len(votes) < settings.votes * len(orders):
                wanted = settings.votes - len(votes) // len(orders)
                if settings.adaptive is not None:
                    wanted = min(settings.adaptive.round_votes, wanted)
                votes += await self._round(prompts, wanted, context)
                if settings.adaptive is not None and votes_agree(votes, settings.swap, settings.adaptive):
                    break
            if settings.verdict == "expected":
                readings = await self._read_votes(prompts, votes, context)
        except ItemFailure as failure:
            return self.failed(item.id, failure)
        outcome = _tally_item(item.id, votes, settings.swap, settings.include_judgments, readings)
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

    async def _read_votes(self, prompts: dict[Order, PreparedPrompt[PairwiseVerdict]], votes: OrderedVotes,
                          context: JudgingContext) -> list[Distribution | None]:
        """Each vote's distribution at its answer, in the order it was judged in (A: shown first)."""
        per_order = await asyncio.gather(*(
            verdict_reading.read_votes(self._runner, context, PAIRWISE, prompt, [v for o, v in votes if o == order])
            for order, prompt in prompts.items()
        ))
        by_order = {order: iter(found) for order, found in zip(prompts, per_order, strict=True)}
        return [next(by_order[order]) for order, _ in votes]

    async def _direct(self, item_id: str, prompts: dict[Order, PreparedPrompt[PairwiseVerdict]],
                      context: JudgingContext, settings: CompareSettings) -> CompareOutcome:
        """One distribution per order, no reasoning, averaged in probability over the orders."""
        found = await asyncio.gather(*(verdict_reading.read_direct(self._runner, context, PAIRWISE, prompt)
                                       for prompt in prompts.values()))
        readings = dict(zip(prompts, found, strict=True))
        judgments = None
        if settings.include_judgments:
            judgments = tuple(Judgment(text=PAIRWISE.direct_prefill(), finish_reason=None, order=order, p=reading)
                              for order, reading in readings.items())
        p_by_order = {order: [_p_a(order, r)] for order, r in readings.items() if r is not None}
        if not p_by_order:
            return CompareOutcome(id=item_id, status="parse_failed", error=verdict_reading.unreadable_message(PAIRWISE),
                                  parse_failures={verdict_reading.UNREADABLE: len(readings)}, judgments=judgments)
        tally = tally_probabilities(p_by_order, settings.swap)
        return CompareOutcome(id=item_id, status="ok", preference=tally.preference, p_a=tally.p_a,
                              consistent=tally.consistent, votes_used=len(p_by_order), judgments=judgments)

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


def _tally_item(item_id: str, votes: OrderedVotes, swapped: bool, include_judgments: bool,
                readings: Sequence[Distribution | None] | None = None) -> CompareOutcome:
    """The votes tallied: by share of votes, or with `readings` (verdict expected) by each vote's p(A) read at its
    answer (a vote whose answer could not be read counts as its written winner, 1 or 0)."""
    read = readings or [None] * len(votes)
    mapped = _mapped(votes)
    failures = failure_counts([vote for _, vote in votes])
    judgments = None
    if include_judgments:
        judgments = tuple(judgment_of(vote, order, winner=_winner(order, vote), p=reading)
                          for (order, vote), reading in zip(votes, read, strict=True))
    if not mapped:
        message = f"none of the {len(votes)} judgments could be parsed: {failures}"
        return CompareOutcome(id=item_id, status="parse_failed", error=message, parse_failures=failures,
                              judgments=judgments)
    if readings is None:
        tally = tally_votes([(vote.order, vote.winner) for vote in mapped], swapped)
    else:
        p_by_order: dict[Order, list[float]] = {}
        for (order, vote), reading in zip(votes, read, strict=True):
            winner = _winner(order, vote)
            if reading is not None:
                p_by_order.setdefault(order, []).append(_p_a(order, reading))
            elif winner is not None:
                p_by_order.setdefault(order, []).append(1.0 if winner == "A" else 0.0)
        tally = tally_probabilities(p_by_order, swapped)
    return CompareOutcome(
        id=item_id, status="ok", preference=tally.preference, p_a=tally.p_a, consistent=tally.consistent,
        votes=tuple(mapped), votes_used=len(mapped), parse_failures=failures, judgments=judgments,
    )


def _p_a(order: Order, reading: Distribution) -> float:
    """p(the request's A is better) from a reading in the order shown."""
    shown_a = verdict_reading.worth(PAIRWISE, reading)
    return shown_a if order == "ab" else 1.0 - shown_a


def _winner(order: Order, vote: Vote[PairwiseVerdict]) -> Label | None:
    """The vote's winner mapped back to the request's labels; None for a parse failure."""
    return to_original_label(order, vote.outcome.winner) if isinstance(vote.outcome, PairwiseVerdict) else None
