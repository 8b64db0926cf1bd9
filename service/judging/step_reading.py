"""Probability verdicts of step judgments: the judge's distribution over `correct`, `neutral` and `incorrect` at
each step's verdict.

- A `step` judgment (strategy `prefix`) has one verdict: it is read like a pointwise one
  (service/judging/verdict_reading.py), after each vote's reasoning (`expected`) or after the direct prefill.
- A `step_list` judgment writes one verdict per line, `k: verdict`, each conditioned on the lines before it. Step
  k is read after `k:` with those lines in place: for `expected`, the ones this vote wrote (every step of every vote
  read together, one branching node each); for `direct`, the most probable verdict of each earlier step, so the k
  reads go one after another. A step whose reading fails leaves the steps after it unread (nothing to condition
  them on).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from genrm_wire.steps import StepVerdictName
from models.formats.sections import ParseFailure, answer_prefix
from models.formats.steps import StepListFormat, step_verdict
from service.judging.context import JudgingContext
from service.judging.runner import JudgmentRunner, PreparedPrompt, Vote
from service.judging.verdict_reading import Distribution


def most_probable(reading: Distribution) -> StepVerdictName:
    """The reading's likeliest verdict (ties go to the first in `correct`, `neutral`, `incorrect` order)."""
    verdict = step_verdict(max(reading, key=lambda name: reading[name]))
    assert verdict is not None, f"a step reading is over the step verdicts, not {sorted(reading)}"
    return verdict


def _by_name(reading: Distribution | None) -> Distribution | None:
    """A line's reading keyed by the verdicts' names, without the space the judge writes before them."""
    return None if reading is None else {verdict.strip(): p for verdict, p in reading.items()}


async def read_list_votes(runner: JudgmentRunner, context: JudgingContext, judge_format: StepListFormat,
                          prompt: PreparedPrompt[Any], votes: Sequence[Vote[Any]]) -> list[list[Distribution | None]]:
    """Every vote's reading of every step (vote, then step), each after the lines that vote wrote before it; a vote
    that did not parse has none."""
    tree = context.model.verdict_tree(judge_format)

    async def read(vote: Vote[Any], index: int) -> Distribution | None:
        if isinstance(vote.outcome, ParseFailure):
            return None
        written = answer_prefix(vote.text) + judge_format.line_prefix(vote.outcome.verdicts[:index])
        return _by_name(await runner.read_verdict(context, prompt, written, tree))

    steps = range(judge_format.steps)
    flat = await asyncio.gather(*(read(vote, index) for vote in votes for index in steps))
    return [list(flat[start:start + judge_format.steps]) for start in range(0, len(flat), judge_format.steps)]


async def read_list_direct(runner: JudgmentRunner, context: JudgingContext, judge_format: StepListFormat,
                           prompt: PreparedPrompt[Any]) -> tuple[list[Distribution | None], str]:
    """Each step's reading with no reasoning, after the most probable verdicts of the steps before it, and the text
    those reads put in the judge's mouth (the prefill and the lines chosen)."""
    tree = context.model.verdict_tree(judge_format)
    chosen: list[StepVerdictName] = []
    readings: list[Distribution | None] = [None] * judge_format.steps
    for index in range(judge_format.steps):
        reading = _by_name(await runner.read_verdict(
            context, prompt, judge_format.direct_prefill() + judge_format.line_prefix(chosen), tree))
        if reading is None:
            break
        readings[index] = reading
        chosen.append(most_probable(reading))
    return readings, judge_format.direct_prefill() + judge_format.answer_lines(chosen)
