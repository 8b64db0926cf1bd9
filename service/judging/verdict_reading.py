"""Probability verdicts in the judges: reading each vote's distribution after its reasoning (`expected`), or one
distribution with no reasoning (`direct`), and what it is worth under the format's verdict values."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from typing import Any

from models.formats import PointwiseVerdict
from models.formats.sections import PLACEHOLDER, FormatFailure, ParseFailure, SectionedFormat, answer_prefix
from models.formats.verdict_probability import expected_value
from service.judging.context import JudgingContext
from service.judging.runner import JudgmentRunner, PreparedPrompt, Vote

Distribution = dict[str, float]
UNREADABLE = "unreadable_verdict"


def unreadable_message(judge_format: SectionedFormat) -> str:
    verdicts = ", ".join(verdict for verdict, _ in judge_format.verdict_values)
    return (f"the engine gave none of the verdicts ({verdicts}) any probability at the judge's answer, so its "
            "probability verdict cannot be read; use `verdict: sampled` for this judge")


def worth(judge_format: SectionedFormat, distribution: Distribution) -> float:
    """The distribution's expected verdict value: a pointwise score, or p(shown A)."""
    return expected_value(distribution, dict(judge_format.verdict_values))


async def read_votes(runner: JudgmentRunner, context: JudgingContext, judge_format: SectionedFormat,
                     prompt: PreparedPrompt[Any], votes: Sequence[Vote[Any]]) -> list[Distribution | None]:
    """Each vote's distribution read at its own answer, the reads in flight together; None for a vote that did not
    parse (it has no answer to read at) or whose answer could not be read."""
    tree = context.model.verdict_tree(judge_format)

    async def read(vote: Vote[Any]) -> Distribution | None:
        if isinstance(vote.outcome, ParseFailure):
            return None
        return await runner.read_verdict(context, prompt, answer_prefix(vote.text), tree)

    return list(await asyncio.gather(*(read(vote) for vote in votes)))


async def read_direct(runner: JudgmentRunner, context: JudgingContext, judge_format: SectionedFormat,
                      prompt: PreparedPrompt[Any]) -> Distribution | None:
    """The distribution with no reasoning: the prompt, every section a placeholder, the answer's opening tag."""
    tree = context.model.verdict_tree(judge_format)
    return await runner.read_verdict(context, prompt, judge_format.direct_prefill(), tree)


def expected_vote(judge_format: SectionedFormat, vote: Vote[PointwiseVerdict],
                  reading: Distribution | None) -> Vote[PointwiseVerdict]:
    """A pointwise vote valued at its reading's expectation (unchanged when unread): for the judges that read a
    vote's value off its verdict (trajectories)."""
    if reading is None or not isinstance(vote.outcome, PointwiseVerdict):
        return vote
    return dataclasses.replace(vote, outcome=dataclasses.replace(vote.outcome, score=worth(judge_format, reading)))


def direct_vote(judge_format: SectionedFormat, reading: Distribution | None) -> Vote[PointwiseVerdict]:
    """A direct reading as a vote: its text the prefill, its value the expectation, or a parse failure (unreadable)
    that the judge reports like any other."""
    prefill = judge_format.direct_prefill()
    if reading is None:
        return Vote(prefill, ParseFailure(FormatFailure.INVALID_ANSWER, unreadable_message(judge_format)), None)
    return Vote(prefill, PointwiseVerdict(worth(judge_format, reading), PLACEHOLDER, PLACEHOLDER, PLACEHOLDER), None)
