"""Budget forcing: a judgment that ran out of tokens gets a short, grammar-constrained ending instead of a
parse failure.

The judge writes freely up to `max_tokens` less the ending's reserve, counted with the judge's own tokenizer
(`JudgeModel.count_tokens`). Each sample that stops on length is continued by one more engine request: the
prompt, what the judge wrote (kept up to a clean point) and the ending's fixed part (the open section's closing
tag, `n/a` for each missing section, `<answer>`), after which the judge writes only its answer, constrained by
the format's answer regex. Its affinity key is the judgment's, so it lands on the engine that holds the prefix
in its cache. Unconstrained checkpoints get the same ending: they write as trained, and only a length-stopped
sample is forced.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from models.formats.judge_format import JudgeFormat
from models.formats.sections import TokenCount
from service.engine.forcing_contract import ENGINE_SLACK_TOKENS
from service.engine.requests import GenerationRequest, GenerationResult, Sample
from service.judging.context import JudgingContext


@dataclass(frozen=True)
class Drawn:
    """One sample's whole text, and whether its ending was forced."""

    text: str
    finish_reason: str | None
    forced: bool


Record = Callable[[GenerationResult], None]


def can_force(judge_format: JudgeFormat[Any], max_tokens: int, count: TokenCount) -> bool:
    """A forced ending fits. Always for constrained models (the request is refused otherwise); an unconstrained
    checkpoint given less writes its whole budget without one."""
    return max_tokens >= judge_format.minimum_max_tokens(count)


def first_draw_tokens(judge_format: JudgeFormat[Any], max_tokens: int, count: TokenCount) -> int:
    """What the judge may write before a forced ending: the budget less the ending's reserve."""
    if can_force(judge_format, max_tokens, count):
        return judge_format.reasoning_tokens(max_tokens, count)
    return max_tokens


def engine_force_at(judge_format: JudgeFormat[Any], max_tokens: int, count: TokenCount) -> int:
    """Where the engine's processor starts the ending, in a request of the whole `max_tokens`: the reserve and
    the processor's slack held back (at least one token written freely)."""
    return max(1, judge_format.reasoning_tokens(max_tokens, count) - ENGINE_SLACK_TOKENS)


def forced_in_engine(samples: Sequence[Sample], force_at: int) -> list[Drawn]:
    """The samples of a request the engine forced: a sample that reached `force_at` tokens got its ending there."""
    return [Drawn(s.text, s.finish_reason, forced=(s.tokens or 0) > force_at) for s in samples]


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
    model = context.model
    cut_off = sample.finish_reason == "length" and can_force(judge_format, context.sampling.max_tokens,
                                                             model.count_tokens)
    ending = judge_format.forced_ending(sample.text) if cut_off else None
    if ending is None:
        return Drawn(sample.text, sample.finish_reason, forced=False)
    encode = model.template.encode_literal
    continued = [*prompt_ids, *encode(ending.kept), *encode(ending.written)]
    # Re-encoding the judge's text can take a few tokens more than generating it did: never ask past the context.
    room = min(judge_format.answer_tokens(), model.max_model_len - len(continued))
    if room < 1:
        return Drawn(sample.text, sample.finish_reason, forced=False)
    sampling = dataclasses.replace(context.sampling, max_tokens=room)
    result = await model.engine.generate(GenerationRequest(continued, 1, sampling, ending.regex, affinity_key))
    record(result)
    tail = result.samples[0]
    return Drawn(ending.kept + ending.written + tail.text, tail.finish_reason, forced=True)
