"""Budget forcing: a judgment that ran out of tokens gets a short, grammar-constrained ending instead of a
parse failure.

The judge writes freely up to `max_tokens - ending_tokens`. Each sample that stops on length is continued by one
more engine request: the prompt plus what the judge wrote (kept up to a clean point), constrained to close the
open section, write the missing ones minimally and give the answer, within the `ending_tokens` held back. Its
affinity key is the judgment's, so it lands on the engine that holds the prefix in its cache. Unconstrained
checkpoints get the same ending: they write as trained, and only a length-stopped sample is forced.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from models.formats.judge_format import JudgeFormat
from service.engine.requests import GenerationRequest, GenerationResult, Sample
from service.judging.context import JudgingContext


@dataclass(frozen=True)
class Drawn:
    """One sample's whole text, and whether its ending was forced."""

    text: str
    finish_reason: str | None
    forced: bool


Record = Callable[[GenerationResult], None]


def can_force(judge_format: JudgeFormat[Any], max_tokens: int) -> bool:
    """A forced ending fits. Always for constrained models (the request is refused otherwise); an unconstrained
    checkpoint given less writes its whole budget without one."""
    return max_tokens >= judge_format.minimum_max_tokens()


def first_draw_tokens(judge_format: JudgeFormat[Any], max_tokens: int) -> int:
    """What the judge may write before a forced ending: the budget less the ending's reserve."""
    return judge_format.reasoning_tokens(max_tokens) if can_force(judge_format, max_tokens) else max_tokens


async def finish_cut_off(
    context: JudgingContext, judge_format: JudgeFormat[Any], prompt_ids: Sequence[int], samples: Sequence[Sample],
    affinity_key: str | None, record: Record,
) -> list[Drawn]:
    """Every sample, the length-stopped ones completed with a forced ending where one can be written. `record`
    sees each continuation's engine answer (usage and metrics)."""
    return list(await asyncio.gather(*(
        _finish(context, judge_format, prompt_ids, sample, affinity_key, record) for sample in samples
    )))


async def _finish(
    context: JudgingContext, judge_format: JudgeFormat[Any], prompt_ids: Sequence[int], sample: Sample,
    affinity_key: str | None, record: Record,
) -> Drawn:
    cut_off = sample.finish_reason == "length" and can_force(judge_format, context.sampling.max_tokens)
    ending = judge_format.forced_ending(sample.text) if cut_off else None
    if ending is None:
        return Drawn(sample.text, sample.finish_reason, forced=False)
    model = context.model
    continued = [*prompt_ids, *model.template.encode_literal(ending.kept)]
    # Re-encoding the judge's text can take a few tokens more than generating it did: never ask past the context.
    room = min(judge_format.ending_tokens(), model.max_model_len - len(continued))
    if room < 1:
        return Drawn(sample.text, sample.finish_reason, forced=False)
    sampling = dataclasses.replace(context.sampling, max_tokens=room)
    result = await model.engine.generate(GenerationRequest(continued, 1, sampling, ending.regex, affinity_key))
    record(result)
    tail = result.samples[0]
    return Drawn(ending.kept + tail.text, tail.finish_reason, forced=True)
