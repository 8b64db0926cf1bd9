"""`PointwiseJudge`: scores each item with n votes of the pointwise format and aggregates them."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import Protocol

from models.formats import POINTWISE, PointwiseVerdict
from models.formats.pointwise import MIN_SCORE
from models.formats.verdict_probability import mean_distribution
from service.judging import telemetry, verdict_reading
from service.judging.aggregation import Aggregate, aggregate_scores
from service.judging.batch import BatchJudge
from service.judging.cache_keys import prompt_affinity
from service.judging.context import ItemFailure, JudgingContext
from service.judging.flagging import Responses
from service.judging.items import AdaptiveVoting, Judgment, ScoreItem, ScoreOutcome, ScoreSettings
from service.judging.runner import PreparedPrompt, Vote, failure_counts, judgment_of
from service.judging.verdict_reading import Distribution

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
        readings: list[Distribution | None] | None = None
        try:
            prompt = self._runner.prepare(context, POINTWISE, messages, prompt_affinity(context, item.prompt))
            if settings.verdict == "direct":
                reading = await verdict_reading.read_direct(self._runner, context, POINTWISE, prompt)
                direct = _direct_item(item.id, reading, settings.include_judgments)
                telemetry.record_score(self._metrics, context, direct)
                return direct
            votes = await self._draw(context, prompt, settings)
            if settings.verdict == "expected":
                readings = await verdict_reading.read_votes(self._runner, context, POINTWISE, prompt, votes)
        except ItemFailure as failure:
            return self.failed(item.id, failure)
        outcome = _aggregate_item(item.id, votes, settings.aggregate, settings.include_judgments, readings)
        telemetry.record_votes(self._metrics, self.route, settings.votes, len(votes))
        telemetry.record_score(self._metrics, context, outcome)
        return outcome

    def responses(self, item: ScoreItem) -> Responses:
        return (("response", item.response),)

    def penalized(self, item: ScoreItem, fields: set[str]) -> ScoreOutcome:
        """The floor of the scale."""
        return ScoreOutcome(id=item.id, status="ok", score=MIN_SCORE)

    async def _draw(
        self, context: JudgingContext, prompt: PreparedPrompt[PointwiseVerdict], settings: ScoreSettings
    ) -> list[Vote[PointwiseVerdict]]:
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
    item_id: str, votes: list[Vote[PointwiseVerdict]], method: Aggregate, include_judgments: bool,
    readings: Sequence[Distribution | None] | None = None,
) -> ScoreOutcome:
    """The votes' scores aggregated: each the verdict it wrote, or with `readings` (verdict expected) the
    expectation read at its answer where that could be read."""
    read = readings or [None] * len(votes)
    worths = [None if r is None else verdict_reading.worth(POINTWISE, r) for r in read]
    scores = [w if w is not None else v.outcome.score for v, w in zip(votes, worths, strict=True)
              if isinstance(v.outcome, PointwiseVerdict)]
    judgments = None
    if include_judgments:
        judgments = tuple(judgment_of(v, score=vote_score(v), p=r) for v, r in zip(votes, read, strict=True))
    failures = failure_counts(votes)
    if not scores:
        return ScoreOutcome(id=item_id, status="parse_failed", error=none_parsed(votes), parse_failures=failures,
                            judgments=judgments)
    score, spread = aggregate_scores(scores, method)
    found = [r for r in read if r is not None]
    return ScoreOutcome(
        id=item_id, status="ok", score=score, scores=tuple(scores), std=spread, votes_used=len(scores),
        parse_failures=failures, judgments=judgments, p=mean_distribution(found) if found else None,
    )


def _direct_item(item_id: str, reading: Distribution | None, include_judgments: bool) -> ScoreOutcome:
    """One distribution, no reasoning: its expectation is the score."""
    judgments = None
    if reading is None:
        return ScoreOutcome(id=item_id, status="parse_failed", error=verdict_reading.unreadable_message(POINTWISE),
                            parse_failures={verdict_reading.UNREADABLE: 1})
    score = verdict_reading.worth(POINTWISE, reading)
    if include_judgments:
        judgments = (Judgment(text=POINTWISE.direct_prefill(), finish_reason=None, score=score, p=reading),)
    return ScoreOutcome(id=item_id, status="ok", score=score, scores=(score,), std=0.0, votes_used=1, p=reading,
                        judgments=judgments)


def vote_score(vote: Vote[PointwiseVerdict]) -> float | None:
    return vote.outcome.score if isinstance(vote.outcome, PointwiseVerdict) else None
