"""Resolving a parsed judging request against the running service: its limits, model, format, rubrics (from
the library as it is now: a reload meanwhile does not change the request's), sampling and deadline, as one
`JudgingContext`. Each refusal names the field and the fix."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from genrm_wire import FlagPolicy, JudgingRequest, SamplingIn
from models.formats.sections import SectionedFormat
from models.rubrics import Rubric, RubricLibrary, RubricSet, UnknownRubricError
from service.engine.requests import SamplingParams
from service.errors import InvalidRequest, NotFound
from service.judging.context import JudgingContext
from service.judging.flagging import FlagAction
from service.judging.registry import JudgeModel, ModelRegistry
from service.judging.rubric_store import RubricStore
from service.orchestration.limits import Limits, check_unique_ids


@dataclass(frozen=True)
class Resolver:
    """What resolving a request needs from the running service."""

    registry: ModelRegistry
    rubric_store: RubricStore
    limits: Limits

    def context(self, body: JudgingRequest, judge_format: SectionedFormat, items: int, votes: int,
                timeout_header: float | None, items_param: str = "items", orders: int = 1) -> JudgingContext:
        self.limits.check(items, votes, items_param)
        self.limits.check_texts(body)
        for listed in ("items", "groups"):
            entries = getattr(body, listed, None)
            if isinstance(entries, list):
                check_unique_ids(entries, listed)
        model = self.registry.get(body.model)
        model.require_format(judge_format.name)
        if body.verdict != "sampled":
            model.verdict_tree(judge_format)  # a 422 on `verdict` when this format or tokenizer has none
        library = self.rubric_store.library  # once: a reload meanwhile does not change this request's rubrics
        rubrics = resolve_rubrics(library, body.task, body.rubric_ids, body.rubrics)
        sampling = resolve_sampling(model, body.sampling or SamplingIn(), judge_format)
        self.limits.check_token_budget(items * votes * orders, sampling.max_tokens)
        if sampling.temperature == 0 and votes > 1:
            raise InvalidRequest(
                f"votes={votes} with temperature 0 (greedy) would repeat one judgment, and vLLM refuses n > 1 "
                "when greedy; use votes=1, or a temperature above 0 for independent votes",
                param="votes",
            )
        timeout_s = body.timeout_s or timeout_header or model.request_timeout_s
        return JudgingContext(model, rubrics, body.task, sampling, time.monotonic() + timeout_s, timeout_s,
                              cache=body.cache, dedup=body.dedup, flag_action=flag_action(body.on_flag),
                              library_hash=library.content_hash)


def flag_action(policy: FlagPolicy) -> FlagAction:
    return FlagAction(policy=policy.policy, kinds=frozenset(policy.kinds))


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


def resolve_sampling(model: JudgeModel, given: SamplingIn, judge_format: SectionedFormat) -> SamplingParams:
    defaults = model.sampling
    sampling = SamplingParams(
        temperature=defaults.temperature if given.temperature is None else given.temperature,
        top_p=defaults.top_p if given.top_p is None else given.top_p,
        max_tokens=defaults.max_tokens if given.max_tokens is None else given.max_tokens,
        seed=given.seed,
    )
    minimum = judge_format.minimum_max_tokens(model.count_tokens)
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
