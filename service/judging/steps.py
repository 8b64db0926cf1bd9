"""`StepJudge`: a verdict for every step of a solution (process rewards), by one of two strategies.

- `prefix`: one `step` judgment per step, each with the steps before it. All of an item's judgments carry one
  affinity key, so a pool keeps them on one engine, where their shared prefix (instructions, problem, earlier
  steps) is cached. The first step is judged first and the rest together: an engine does not share a prefix
  between requests that are computing it at the same moment, so the first computes it for the others.
- `list`: one `step_list` judgment of the whole solution, whose answer grammar takes exactly one verdict per
  step, in order.

A step's verdict is its votes' majority (a tie between correct and incorrect is neutral); its score is the mean
over votes of correct 1, neutral 0.5, incorrect 0. A step none of whose votes parsed has no verdict, and the
item fails `parse_failed` (one unparsed step leaves the aggregates undefined).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from typing import Any

from genrm_wire.steps import StepVerdictName
from models.formats.steps import STEP, StepListFormat, StepListVerdict, StepVerdict
from models.steps import Step, aggregate_steps
from service.judging import telemetry
from service.judging.batch import BatchJudge
from service.judging.cache_keys import prompt_affinity
from service.judging.context import ItemFailure, JudgingContext
from service.judging.flagging import Responses
from service.judging.items import Judgment, StepItem, StepOutcome, StepResult, StepSettings
from service.judging.runner import Vote, failure_counts, judgment_of

ROUTE = "/v1/steps"
SOLUTION_FIELD = "solution"  # the text under evaluation, as flags name it
VERDICT_SCORES: dict[str, float] = {"correct": 1.0, "neutral": 0.5, "incorrect": 0.0}


class StepJudge(BatchJudge[StepItem, StepSettings, StepOutcome]):
    route = ROUTE
    format_name = "steps"
    outcome_type = StepOutcome

    async def judge_item(self, item: StepItem, settings: StepSettings, context: JudgingContext) -> StepOutcome:
        affinity = prompt_affinity(context, item.prompt)
        try:
            if settings.strategy == "prefix":
                by_step, all_votes = await self._by_prefix(item, settings, context, affinity)
            else:
                by_step, all_votes = await self._by_list(item, settings, context, affinity)
        except ItemFailure as failure:
            return self.failed(item.id, failure)
        telemetry.record_votes(self._metrics, self.route, settings.votes * _judgments(item, settings),
                               len(all_votes))
        judgments = tuple(judgment_of(vote) for vote in all_votes) if settings.include_judgments else None
        return _outcome(item, by_step, all_votes, judgments)

    def responses(self, item: StepItem) -> Responses:
        return ((SOLUTION_FIELD, item.solution),)

    def penalized(self, item: StepItem, fields: set[str]) -> StepOutcome:
        """Every step incorrect: a flagged solution earns nothing at any step."""
        results = tuple(StepResult(step, "incorrect", 0.0, {}) for step in item.steps)
        return StepOutcome(id=item.id, status="ok", steps=results,
                           aggregates=aggregate_steps([0.0] * len(results), [True] * len(results)))

    async def _by_prefix(self, item: StepItem, settings: StepSettings, context: JudgingContext,
                         affinity: str) -> tuple[list[list[StepVerdictName]], list[Vote[Any]]]:
        texts = [step.text for step in item.steps]
        prompts = []
        for index, text in enumerate(texts):
            try:
                prompts.append(self._runner.prepare(
                    context, STEP, STEP.build_messages(item.prompt, texts[:index], text, context.model.framing),
                    affinity))
            except ItemFailure as failure:
                raise ItemFailure(failure.status, f"step {index} with the steps before it: {failure.message}") from None
        first = await self._runner.draw(context, prompts[0], settings.votes)  # its prefix is then in the cache
        rest = await asyncio.gather(*(self._runner.draw(context, prompt, settings.votes) for prompt in prompts[1:]))
        drawn = [first, *rest]
        by_step = [[vote.outcome.verdict for vote in votes if isinstance(vote.outcome, StepVerdict)]
                   for votes in drawn]
        return by_step, [vote for votes in drawn for vote in votes]

    async def _by_list(self, item: StepItem, settings: StepSettings, context: JudgingContext,
                       affinity: str) -> tuple[list[list[StepVerdictName]], list[Vote[Any]]]:
        judge_format = StepListFormat(steps=len(item.steps))
        texts = [step.text for step in item.steps]
        prompt = self._runner.prepare(context, judge_format,
                                      judge_format.build_messages(item.prompt, texts, context.model.framing), affinity)
        votes = await self._runner.draw(context, prompt, settings.votes)
        verdicts = [vote.outcome.verdicts for vote in votes if isinstance(vote.outcome, StepListVerdict)]
        by_step = [[verdict[index] for verdict in verdicts] for index in range(len(item.steps))]
        return by_step, list(votes)


def _judgments(item: StepItem, settings: StepSettings) -> int:
    return len(item.steps) if settings.strategy == "prefix" else 1


def step_result(step: Step, verdicts: Sequence[StepVerdictName]) -> StepResult:
    if not verdicts:
        return StepResult(step, None, None, {})
    counts = Counter(verdicts)
    score = sum(VERDICT_SCORES[verdict] for verdict in verdicts) / len(verdicts)
    return StepResult(step, _majority(counts), score, {verdict: n for verdict, n in counts.items()})


def _majority(counts: Counter[StepVerdictName]) -> StepVerdictName:
    ranked = counts.most_common()
    if len(ranked) > 1 and ranked[0][1] == ranked[1][1]:
        return "neutral"  # a tie says the judge is unsure
    return ranked[0][0]


def _outcome(item: StepItem, by_step: list[list[StepVerdictName]], votes: Sequence[Vote[Any]],
             judgments: tuple[Judgment, ...] | None) -> StepOutcome:
    results = tuple(step_result(step, verdicts) for step, verdicts in zip(item.steps, by_step, strict=True))
    failures = failure_counts(votes)
    unparsed = [result.step.index for result in results if result.verdict is None]
    if unparsed:
        return StepOutcome(id=item.id, status="parse_failed", steps=results, parse_failures=failures,
                           judgments=judgments, votes_used=len(votes) - sum(failures.values()),
                           error=f"no judgment of step(s) {unparsed} could be parsed: {failures}")
    scores = [result.score for result in results if result.score is not None]
    aggregates = aggregate_steps(scores, [result.verdict == "incorrect" for result in results])
    return StepOutcome(id=item.id, status="ok", steps=results, aggregates=aggregates, parse_failures=failures,
                       judgments=judgments, votes_used=len(votes) - sum(failures.values()))

