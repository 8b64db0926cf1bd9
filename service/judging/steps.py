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

With probability verdicts (service/judging/step_reading.py) a vote is worth the expectation of the distribution
read at its verdict (`expected`; a vote whose verdict could not be read keeps its written value), and the step
reports the mean distribution, `p`. `direct` writes no judgment: each step is one reading, its verdict the most
probable, its score the expectation, and a step that could not be read fails the item like an unparsed one.
"""

from __future__ import annotations

import asyncio
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from genrm_wire.steps import StepVerdictName
from models.formats.steps import STEP, STEP_VERDICT_VALUES, StepListFormat, StepListVerdict, StepVerdict
from models.formats.verdict_probability import expected_value, mean_distribution
from models.steps import Step, aggregate_steps
from service.judging import step_reading, telemetry, verdict_reading
from service.judging.batch import BatchJudge
from service.judging.cache_keys import prompt_affinity
from service.judging.context import ItemFailure, JudgingContext
from service.judging.flagging import Responses
from service.judging.items import Judgment, StepItem, StepOutcome, StepResult, StepSettings
from service.judging.runner import PreparedPrompt, Vote, failure_counts, judgment_of
from service.judging.verdict_reading import Distribution

ROUTE = "/v1/steps"
SOLUTION_FIELD = "solution"  # the text under evaluation, as flags name it
VERDICT_SCORES: dict[str, float] = dict(STEP_VERDICT_VALUES)


@dataclass(frozen=True)
class StepVote:
    """One vote on one step: the verdict it wrote (`direct`: the most probable, written by nobody) and the
    distribution read at that verdict, if any."""

    verdict: StepVerdictName
    reading: Distribution | None = None
    written: bool = True

    @property
    def value(self) -> float:
        if self.reading is None:
            return VERDICT_SCORES[self.verdict]
        return expected_value(self.reading, VERDICT_SCORES)


@dataclass(frozen=True)
class _Judged:
    """An item's votes by step, the judgments behind them (as `include_judgments` reports them), how many votes
    count, and the parse failures (unparsed judgments, or with `direct` unreadable steps)."""

    by_step: list[list[StepVote]]
    judgments: tuple[Judgment, ...]
    votes_used: int
    failures: dict[str, int]


class StepJudge(BatchJudge[StepItem, StepSettings, StepOutcome]):
    route = ROUTE
    format_name = "steps"
    outcome_type = StepOutcome

    async def judge_item(self, item: StepItem, settings: StepSettings, context: JudgingContext) -> StepOutcome:
        affinity = prompt_affinity(context, item.prompt)
        try:
            if settings.strategy == "prefix":
                judged = await self._by_prefix(item, settings, context, affinity)
            else:
                judged = await self._by_list(item, settings, context, affinity)
        except ItemFailure as failure:
            return self.failed(item.id, failure)
        if settings.verdict != "direct":
            telemetry.record_votes(self._metrics, self.route, settings.votes * _judgments(item, settings),
                                   judged.votes_used + sum(judged.failures.values()))
        return _outcome(item, judged, settings.include_judgments)

    def responses(self, item: StepItem) -> Responses:
        return ((SOLUTION_FIELD, item.solution),)

    def penalized(self, item: StepItem, fields: set[str]) -> StepOutcome:
        """Every step incorrect: a flagged solution earns nothing at any step."""
        results = tuple(StepResult(step, "incorrect", 0.0, {}) for step in item.steps)
        return StepOutcome(id=item.id, status="ok", steps=results,
                           aggregates=aggregate_steps([0.0] * len(results), [True] * len(results)))

    async def _by_prefix(self, item: StepItem, settings: StepSettings, context: JudgingContext,
                         affinity: str) -> _Judged:
        texts = [step.text for step in item.steps]
        prompts = []
        for index, text in enumerate(texts):
            try:
                prompts.append(self._runner.prepare(
                    context, STEP, STEP.build_messages(item.prompt, texts[:index], text, context.model.framing),
                    affinity))
            except ItemFailure as failure:
                raise ItemFailure(failure.status, f"step {index} with the steps before it: {failure.message}") from None
        if settings.verdict == "direct":
            first_read = await verdict_reading.read_direct(self._runner, context, STEP, prompts[0])
            readings = [first_read, *await asyncio.gather(
                *(verdict_reading.read_direct(self._runner, context, STEP, prompt) for prompt in prompts[1:]))]
            return _direct(readings, [STEP.direct_prefill()] * len(readings))

        async def judge_step(prompt: PreparedPrompt[StepVerdict]) -> tuple[list[Vote[Any]], list[Distribution | None]]:
            votes = await self._runner.draw(context, prompt, settings.votes)
            if settings.verdict != "expected":
                return votes, [None] * len(votes)
            return votes, await verdict_reading.read_votes(self._runner, context, STEP, prompt, votes)

        first = await judge_step(prompts[0])  # its prefix is then in the engine's cache for the others
        drawn = [first, *await asyncio.gather(*(judge_step(prompt) for prompt in prompts[1:]))]
        by_step = [[StepVote(vote.outcome.verdict, reading) for vote, reading in zip(votes, reads, strict=True)
                    if isinstance(vote.outcome, StepVerdict)] for votes, reads in drawn]
        return _written(by_step, [(vote, reading) for votes, reads in drawn
                                  for vote, reading in zip(votes, reads, strict=True)])

    async def _by_list(self, item: StepItem, settings: StepSettings, context: JudgingContext,
                       affinity: str) -> _Judged:
        judge_format = StepListFormat(steps=len(item.steps))
        texts = [step.text for step in item.steps]
        prompt = self._runner.prepare(context, judge_format,
                                      judge_format.build_messages(item.prompt, texts, context.model.framing), affinity)
        if settings.verdict == "direct":
            readings, written = await step_reading.read_list_direct(self._runner, context, judge_format, prompt)
            return _direct(readings, [written])
        votes = await self._runner.draw(context, prompt, settings.votes)
        if settings.verdict == "expected":
            read = await step_reading.read_list_votes(self._runner, context, judge_format, prompt, votes)
        else:
            read = [[None] * len(item.steps) for _ in votes]
        parsed = [(vote.outcome.verdicts, reads) for vote, reads in zip(votes, read, strict=True)
                  if isinstance(vote.outcome, StepListVerdict)]
        by_step = [[StepVote(verdicts[index], reads[index]) for verdicts, reads in parsed]
                   for index in range(len(item.steps))]
        return _written(by_step, [(vote, None) for vote in votes])


def _judgments(item: StepItem, settings: StepSettings) -> int:
    return len(item.steps) if settings.strategy == "prefix" else 1


def _written(by_step: list[list[StepVote]], votes: Sequence[tuple[Vote[Any], Distribution | None]]) -> _Judged:
    """Judgments the judge wrote, each with the reading at its verdict (a `step_list` one has one per step, on
    the steps, not here)."""
    failures = failure_counts([vote for vote, _ in votes])
    judgments = tuple(judgment_of(vote, p=reading) for vote, reading in votes)
    return _Judged(by_step, judgments, len(votes) - sum(failures.values()), failures)


def _direct(readings: Sequence[Distribution | None], texts: Sequence[str]) -> _Judged:
    """Readings with no reasoning, one per step; `texts` what the reads put in the judge's mouth."""
    by_step = [[] if reading is None else [StepVote(step_reading.most_probable(reading), reading, written=False)]
               for reading in readings]
    unreadable = sum(reading is None for reading in readings)
    judgments = tuple(Judgment(text=text, finish_reason=None) for text in texts)
    return _Judged(by_step, judgments, 1, {verdict_reading.UNREADABLE: unreadable} if unreadable else {})


def step_result(step: Step, votes: Sequence[StepVote]) -> StepResult:
    if not votes:
        return StepResult(step, None, None, {})
    counts = Counter(vote.verdict for vote in votes)
    readings = [vote.reading for vote in votes if vote.reading is not None]
    return StepResult(step, _majority(counts), statistics.fmean(vote.value for vote in votes),
                      dict(Counter(vote.verdict for vote in votes if vote.written)),
                      p=mean_distribution(readings) if readings else None)


def _majority(counts: Counter[StepVerdictName]) -> StepVerdictName:
    ranked = counts.most_common()
    if len(ranked) > 1 and ranked[0][1] == ranked[1][1]:
        return "neutral"  # a tie says the judge is unsure
    return ranked[0][0]


def _unparsed_message(unparsed: list[int], failures: dict[str, int]) -> str:
    message = f"no judgment of step(s) {unparsed} could be parsed: {failures}"
    if verdict_reading.UNREADABLE in failures:
        return f"{message}; {verdict_reading.unreadable_message(STEP)}"
    return message


def _outcome(item: StepItem, judged: _Judged, include_judgments: bool) -> StepOutcome:
    results = tuple(step_result(step, votes) for step, votes in zip(item.steps, judged.by_step, strict=True))
    judgments = judged.judgments if include_judgments else None
    unparsed = [result.step.index for result in results if result.verdict is None]
    if unparsed:
        return StepOutcome(id=item.id, status="parse_failed", steps=results, parse_failures=judged.failures,
                           judgments=judgments, votes_used=judged.votes_used,
                           error=_unparsed_message(unparsed, judged.failures))
    scores = [result.score for result in results if result.score is not None]
    aggregates = aggregate_steps(scores, [result.verdict == "incorrect" for result in results])
    return StepOutcome(id=item.id, status="ok", steps=results, aggregates=aggregates,
                       parse_failures=judged.failures, judgments=judgments, votes_used=judged.votes_used)
