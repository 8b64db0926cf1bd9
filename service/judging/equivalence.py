"""`EquivalenceJudge`: asks the judge whether a response's answer and the reference are equivalent, in both
orders (the reference shown first, then the answer first), `votes` judgments each. The answer counts as
equivalent only when each order's majority says `equal`: a judge that favours what it reads first cannot turn a
wrong answer right. The verified scorer (`service/verifying/scorer.py`) calls it for the items it escalates."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from models.chat import Conversation
from models.formats.equivalence import EQUIVALENCE, EquivalenceVerdict
from service.judging.aggregation import Order
from service.judging.batch import BatchJudge
from service.judging.cache_keys import prompt_affinity
from service.judging.context import ItemFailure, JudgingContext
from service.judging.flagging import Responses
from service.judging.items import EquivalenceResult, ItemOutcome, Judgment
from service.judging.runner import Vote, failure_counts, judgment_of

ORDERS = ("reference_first", "response_first")


@dataclass(frozen=True)
class EquivalenceItem:
    id: str
    prompt: Conversation
    reference: str
    answer: str  # the response's extracted answer, or the whole response when none could be read


@dataclass(frozen=True)
class EquivalenceSettings:
    votes: int
    include_judgments: bool = False


@dataclass(frozen=True)
class EquivalenceOutcome(ItemOutcome):
    result: EquivalenceResult | None = None


class EquivalenceJudge(BatchJudge[EquivalenceItem, EquivalenceSettings, EquivalenceOutcome]):
    route = "/v1/score"
    format_name = EQUIVALENCE.name
    outcome_type = EquivalenceOutcome

    async def judge_item(self, item: EquivalenceItem, settings: EquivalenceSettings,
                         context: JudgingContext) -> EquivalenceOutcome:
        affinity = prompt_affinity(context, item.prompt)
        pairs = ((item.reference, item.answer), (item.answer, item.reference))
        try:
            prompts = [self._runner.prepare(context, EQUIVALENCE, EQUIVALENCE.build_messages(
                item.prompt, first, second, context.model.framing), affinity) for first, second in pairs]
            drawn = await asyncio.gather(*(self._runner.draw(context, prompt, settings.votes) for prompt in prompts))
        except ItemFailure as failure:
            return self.failed(item.id, failure)
        return _tally(item.id, dict(zip(ORDERS, drawn, strict=True)), settings.include_judgments)

    def responses(self, item: EquivalenceItem) -> Responses:
        return (("response", item.answer),)

    def penalized(self, item: EquivalenceItem, fields: set[str]) -> EquivalenceOutcome:
        return EquivalenceOutcome(id=item.id, status="ok", result=EquivalenceResult(False, 0.0, {}, 0))


def _judgments(votes: dict[str, list[Vote[EquivalenceVerdict]]]) -> tuple[Judgment, ...]:
    """Each vote's text; `order` "ab" is the reference shown first (as response_a), "ba" the answer first."""
    shown: dict[str, Order] = {"reference_first": "ab", "response_first": "ba"}
    return tuple(judgment_of(vote, shown[order]) for order, order_votes in votes.items() for vote in order_votes)


def _tally(item_id: str, votes: dict[str, list[Vote[EquivalenceVerdict]]],
           include_judgments: bool) -> EquivalenceOutcome:
    every = [vote for order_votes in votes.values() for vote in order_votes]
    failures = failure_counts(every)
    judgments = _judgments(votes) if include_judgments else None
    parsed = {order: [v.outcome.equal for v in order_votes if isinstance(v.outcome, EquivalenceVerdict)]
              for order, order_votes in votes.items()}
    if not all(parsed.values()):
        return EquivalenceOutcome(id=item_id, status="parse_failed", parse_failures=failures, judgments=judgments,
                                  error=f"an order has no parsed judgment of equivalence: {failures}")
    by_order = {order: sum(equal) / len(equal) for order, equal in parsed.items()}
    used = sum(len(equal) for equal in parsed.values())
    p_equal = sum(sum(equal) for equal in parsed.values()) / used
    equivalent = all(share > 0.5 for share in by_order.values())
    return EquivalenceOutcome(id=item_id, status="ok", votes_used=used, parse_failures=failures, judgments=judgments,
                              result=EquivalenceResult(equivalent, p_equal, by_order, used))
