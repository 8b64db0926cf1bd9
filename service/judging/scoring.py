"""`PointwiseJudge`: scores each item with n votes of the pointwise format and aggregates them."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import Protocol

from models.chat import ChatMessage
from models.formats import POINTWISE, PointwiseVerdict
from models.formats.pointwise import MIN_SCORE
from service.judging import telemetry
from service.judging.aggregation import Aggregate, aggregate_scores
from service.judging.batch import BatchJudge
from service.judging.cache_keys import prompt_affinity
from service.judging.context import ItemFailure, JudgingContext
from service.judging.flagging import Responses
from service.judging.items import AdaptiveVoting, ScoreItem, ScoreOutcome, ScoreSettings
from service.judging.runner import Vote, failure_counts, judgment_of

ROUTE = "/v1/score"


class ScoreBatchJudge(Protocol):
    """What scores a batch: the pointwise judge, or the verified scorer around it."""

    async def judge_batch(self, items: Sequence[ScoreItem], settings: ScoreSettings,
                          context: JudgingContext) -> list[ScoreOutcome]: ...


class PointwiseJudge(BatchJudge[ScoreItem, ScoreSettings, ScoreOutcome]):
    route = ROUTE
    format_name = POINTWISE.name
    outcome_type = ScoreOutcome

    async def judge_item(self, item: ScoreItem, settings: ScoreSettings, context: JudgingContext) -> ScoreOutcome:
        messages = POINTWISE.build_messages(context.task, context.rubrics, item.prompt, item.response,
                                            context.model.framing)
        try:
            votes = await self._draw(context, messages, settings, prompt_affinity(context, item.prompt))
        except ItemFailure as failure:
            return self.failed(item.id, failure)
        outcome = _aggregate_item(item.id, votes, settings.aggregate, settings.include_judgments)
        telemetry.record_votes(self._metrics, self.route, settings.votes, len(votes))
        telemetry.record_score(self._metrics, context, outcome)
        return outcome

    def responses(self, item: ScoreItem) -> Responses:
        return (("response", item.response),)

    def penalized(self, item: ScoreItem, fields: set[str]) -> ScoreOutcome:
        """The floor of the scale."""
        return ScoreOutcome(id=item.id, status="ok", score=MIN_SCORE)

    async def _draw(
        self, context: JudgingContext, messages: list[ChatMessage], settings: ScoreSettings, affinity: str
    ) -> list[Vote[PointwiseVerdict]]:
        prompt = self._runner.prepare(context, POINTWISE, messages, affinity)
        if settings.adaptive is None:
            return await self._runner.draw(context, prompt, settings.votes)
        votes: list[Vote[PointwiseVerdict]] = []
        while len(votes) < settings.votes:
            wanted = min(settings.adaptive.round_votes, settings.votes - len(votes))
            votes += await self._runner.draw(context, prompt, wanted)
            if scores_agree(vote_scores(votes), settings.adaptive):
                break
        return votes


def scores_agree(scores: list[float], adaptive: AdaptiveVoting) -> bool:
    """At least two scores whose mean has a standard error of at most `max_stderr`."""
    if len(scores) < 2:
        return False
    return statistics.stdev(scores) / math.sqrt(len(scores)) <= adaptive.max_stderr


def vote_scores(votes: Sequence[Vote[PointwiseVerdict]]) -> list[float]:
    """The scores of the votes that parsed."""
    return [v.outcome.score for v in votes if isinstance(v.outcome, PointwiseVerdict)]


def none_parsed(votes: Sequence[Vote[PointwiseVerdict]]) -> str:
    return f"none of the {len(votes)} judgments could be parsed: {failure_counts(votes)}"


def _aggregate_item(
    item_id: str, votes: list[Vote[PointwiseVerdict]], method: Aggregate, include_judgments: bool
) -> ScoreOutcome:
    scores = vote_scores(votes)
    judgments = tuple(judgment_of(v, score=vote_score(v)) for v in votes) if include_judgments else None
    failures = failure_counts(votes)
    if not scores:
        return ScoreOutcome(id=item_id, status="parse_failed", error=none_parsed(votes), parse_failures=failures,
                            judgments=judgments)
    score, spread = aggregate_scores(scores, method)
    return ScoreOutcome(
        id=item_id, status="ok", score=score, scores=tuple(scores), std=spread, votes_used=len(scores),
        parse_failures=failures, judgments=judgments,
    )


def vote_score(vote: Vote[PointwiseVerdict]) -> float | None:
    return vote.outcome.score if isinstance(vote.outcome, PointwiseVerdict) else None
