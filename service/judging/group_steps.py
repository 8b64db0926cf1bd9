"""`steps` mode of `/v1/groups`: every rollout cut into steps and judged by the step judge (process rewards for
a GRPO group), its reward the aggregate the request names.

Rollouts are what a policy wrote, not what a client chose, so cutting one never fails the request:

- a rollout in which the rule finds no step (blank, or no numbered line under `numbered`) is judged as one step,
  its whole text (a blank one is one empty step, flagged `empty`: `on_flag` acting on `empty` gives it 0
  unjudged);
- a rollout with more than `MAX_STEPS` steps fails alone, `too_long`, and the failure policy fills its reward.

Only the request's own mistake, a `regex` pattern that does not compile, is a 422 (`SplitError` on `pattern`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from genrm_wire.rewards import StepRewardName
from genrm_wire.steps import SplitRule, StepStrategy
from models.chat import Conversation
from models.formats.sections import SectionedFormat
from models.formats.steps import STEP, StepListFormat
from models.integrity.flags import Flag
from models.steps import SplitError, Step, TooManySteps, split_solution
from service.judging.context import JudgingContext
from service.judging.failures import FailureHandling, RetryCounts, judge_with_retries
from service.judging.items import StepItem, StepOutcome, StepSettings
from service.judging.steps import SOLUTION_FIELD, StepJudge


@dataclass(frozen=True)
class StepGroupSettings:
    split: SplitRule
    pattern: str | None
    strategy: StepStrategy
    reward: StepRewardName


@dataclass(frozen=True)
class SplitRollout:
    """One rollout's steps, or why it has none to judge (`too_many`: the split's message)."""

    id: str
    prompt: Conversation
    text: str
    steps: tuple[Step, ...]
    too_many: str | None = None


def rollout_steps(rollout: str, settings: StepGroupSettings) -> tuple[Step, ...]:
    """The rollout's steps under the rule, or the whole rollout as one step where the rule finds none; raises
    `TooManySteps`, and `SplitError` on `pattern` (the request's mistake)."""
    try:
        return tuple(split_solution(rollout, settings.split, pattern=settings.pattern))
    except TooManySteps:
        raise
    except SplitError as error:
        if error.field == "pattern":
            raise
    stripped = rollout.strip()
    start = rollout.find(stripped) if stripped else 0
    return (Step(0, start, start + len(stripped), stripped),)


def split_rollouts(rollouts: Sequence[tuple[str, Conversation, str]],
                   settings: StepGroupSettings) -> list[SplitRollout]:
    """Each (id, prompt, text) rollout cut into steps; raises `SplitError` only for the request's pattern."""
    cut = []
    for rollout_id, prompt, text in rollouts:
        try:
            cut.append(SplitRollout(rollout_id, prompt, text, rollout_steps(text, settings)))
        except TooManySteps as error:
            cut.append(SplitRollout(rollout_id, prompt, text, (), too_many=str(error)))
    return cut


def widest_format(cut: Sequence[SplitRollout], strategy: StepStrategy) -> SectionedFormat:
    """The format whose answer budget the request's sampling must hold (a `list` answer grows with its steps)."""
    if strategy == "prefix":
        return STEP
    return StepListFormat(steps=max((len(rollout.steps) for rollout in cut), default=1))


def engine_requests(cut: Sequence[SplitRollout], strategy: StepStrategy) -> int:
    judged = [rollout for rollout in cut if rollout.too_many is None]
    return sum(len(rollout.steps) for rollout in judged) if strategy == "prefix" else len(judged)


@dataclass(frozen=True)
class StepGroupOutcomes:
    """Each rollout's outcome by id: a judged one's `StepOutcome`, or an uncut one's `too_long`."""

    by_id: dict[str, StepOutcome]
    retries: RetryCounts


async def judge_split_rollouts(judge: StepJudge, cut: Sequence[SplitRollout], settings: StepSettings,
                               context: JudgingContext, handling: FailureHandling) -> StepGroupOutcomes:
    items = [StepItem(rollout.id, rollout.prompt, rollout.text, rollout.steps)
             for rollout in cut if rollout.too_many is None]
    outcomes, retries = await judge_with_retries(
        lambda batch, ctx: judge.judge_batch(batch, settings, ctx), items, context, handling
    ) if items else ([], RetryCounts())
    by_id = {outcome.id: outcome for outcome in outcomes}
    for rollout in cut:
        if rollout.too_many is not None:
            by_id[rollout.id] = StepOutcome(id=rollout.id, status="too_long", error=rollout.too_many)
    return StepGroupOutcomes(by_id, retries)


def reward_of(outcome: StepOutcome, reward: StepRewardName) -> float | None:
    if outcome.status != "ok" or outcome.aggregates is None:
        return None
    value: float = getattr(outcome.aggregates, reward)
    return value


def rollout_flags(outcome: StepOutcome) -> tuple[Flag, ...]:
    """The step judge's flags of the solution, as the rollout's own (`response`)."""
    return tuple(Flag(flag.kind, "response", flag.detail) for flag in outcome.flags if flag.field == SOLUTION_FIELD)
