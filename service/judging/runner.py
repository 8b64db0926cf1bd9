"""One item's judging work: render the prompt and check its length (once), ask the engine for n votes, parse each.

Shared by the pointwise and the pairwise judge. A failure that belongs to this item alone (too long, engine
error, timeout) is raised as `ItemFailure` and becomes the item's status; the rest of the batch goes on.
Every engine answer's tokens go to the request's `UsageMeter` and to the metrics.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from models.chat import ChatMessage
from models.formats.judge_format import JudgeFormat
from models.formats.sections import ParseFailure
from models.formats.verdict_probability import TOP_LOGPROBS, VerdictTree
from service.engine.requests import GenerationRequest, GenerationResult, Sample, SamplingParams
from service.errors import EngineTimeout, UpstreamError
from service.judging.aggregation import Label, Order
from service.judging.context import ItemFailure, JudgingContext
from service.judging.forcing import engine_force_at, finish_cut_off, first_draw_tokens, forced_in_engine
from service.judging.items import Judgment
from service.metrics import Metrics

VerdictT = TypeVar("VerdictT")
# A probability reading generates one token, greedily (its log-probabilities are the model's, before sampling).
READ_SAMPLING = SamplingParams(temperature=0.0, top_p=1.0, max_tokens=1)


@dataclass(frozen=True)
class Vote(Generic[VerdictT]):
    text: str
    outcome: VerdictT | ParseFailure
    finish_reason: str | None
    forced: bool = False


def judgment_of(vote: Vote[Any], order: Order | None = None, score: float | None = None,
                winner: Label | None = None, p: dict[str, float] | None = None) -> Judgment:
    """A vote as the response reports it: its text, and its verdict (`score`, `winner`: what the caller read from
    it) or why it is none."""
    failure = vote.outcome if isinstance(vote.outcome, ParseFailure) else None
    return Judgment(text=vote.text, finish_reason=vote.finish_reason, order=order, score=score, winner=winner,
                    failure=None if failure is None else failure.category.value,
                    failure_detail=None if failure is None else failure.detail, forced=vote.forced, p=p)


def failure_counts(votes: Sequence[Vote[Any]]) -> dict[str, int]:
    return dict(Counter(v.outcome.category.value for v in votes if isinstance(v.outcome, ParseFailure)))


@dataclass(frozen=True)
class PreparedPrompt(Generic[VerdictT]):
    """One judge prompt, rendered, tokenized and length-checked once, however many rounds of votes it gets."""

    judge_format: JudgeFormat[VerdictT]
    prompt_ids: list[int]
    regex: str | None
    affinity_key: str | None


class JudgmentRunner:
    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def prepare(
        self,
        context: JudgingContext,
        judge_format: JudgeFormat[VerdictT],
        messages: Sequence[ChatMessage],
        affinity_key: str | None = None,
    ) -> PreparedPrompt[VerdictT]:
        model, sampling = context.model, context.sampling
        prompt_ids = model.template.encode(model.template.render(messages))
        needed = len(prompt_ids) + sampling.max_tokens
        if needed > model.max_model_len:
            raise ItemFailure(
                "too_long",
                f"the judge prompt is {len(prompt_ids)} tokens; with max_tokens={sampling.max_tokens} it needs "
                f"{needed}, over the judge's context of {model.max_model_len}. Shorten the prompt or "
                "response(s), or lower sampling.max_tokens.",
            )
        regex = judge_format.output_regex(sampling.max_tokens, model.count_tokens) if model.constrained else None
        return PreparedPrompt(judge_format, prompt_ids, regex, affinity_key)

    async def draw(self, context: JudgingContext, prompt: PreparedPrompt[VerdictT], n: int) -> list[Vote[VerdictT]]:
        """`n` votes on `prompt`: one engine request, so the samples share the prompt's prefix. The judge writes
        within `max_tokens` less the forced ending's reserve; a sample cut off there gets its forced ending."""
        model, judge_format, max_tokens = context.model, prompt.judge_format, context.sampling.max_tokens
        in_engine = model.forces_in_engine and prompt.regex is not None
        if in_engine:  # one request of the whole budget; the engine writes the ending at `force_at`
            force_at = engine_force_at(judge_format, max_tokens, model.count_tokens)
            request = GenerationRequest(prompt.prompt_ids, n, context.sampling, prompt.regex, prompt.affinity_key,
                                        force_at)
        else:
            first = dataclasses.replace(context.sampling,
                                        max_tokens=first_draw_tokens(judge_format, max_tokens, model.count_tokens))
            request = GenerationRequest(prompt.prompt_ids, n, first, prompt.regex, prompt.affinity_key)
        with self._item_failures(context):
            result = await model.engine.generate(request)
            self._count_engine_answer(context, result, len(result.samples))
            if in_engine:
                drawn = forced_in_engine(result.samples, force_at)
            else:
                drawn = await finish_cut_off(
                    context, judge_format, prompt.prompt_ids, result.samples, prompt.affinity_key,
                    lambda ending: self._count_engine_answer(context, ending, 0),
                )
        votes = [Vote(d.text, judge_format.parse(d.text), d.finish_reason, d.forced) for d in drawn]
        self._count(model.name, model.version, judge_format.name, votes, result.samples)
        return votes

    async def read_verdict(self, context: JudgingContext, prompt: PreparedPrompt[Any], written: str,
                           tree: VerdictTree) -> dict[str, float] | None:
        """The judge's distribution over the format's verdicts after `written` (a judgment up to its answer's
        opening tag, or the direct prefill): one one-token request per branching node of the verdict tree for its
        top log-probabilities, in flight together and sharing the prompt's prefix; then, for each allowed token
        missing from its node's top, one request that may generate only that token, whose own log-probability
        the engine returns whatever its rank. None when the engine answers none (models/formats/
        verdict_probability.py)."""
        base = [*prompt.prompt_ids, *context.model.template.encode_literal(written)]
        nodes = tree.reads()
        tops = await self._read_tokens(context, prompt, [([*base, *node], None) for node in nodes])
        readings = {node: dict(top) for node, top in zip(nodes, tops, strict=True)}
        missing = [(node, token) for node in nodes for token in sorted(tree.children(node) - readings[node].keys())]
        forced = await self._read_tokens(context, prompt, [([*base, *node], token) for node, token in missing])
        for (node, token), top in zip(missing, forced, strict=True):
            if token in top:
                readings[node][token] = top[token]
        distribution = tree.distribution(readings)
        self._metrics.verdict_readings.labels(context.model.name, "ok" if distribution else "unreadable").inc()
        return distribution

    async def _read_tokens(self, context: JudgingContext, prompt: PreparedPrompt[Any],
                           reads: Sequence[tuple[list[int], int | None]]) -> list[Mapping[int, float]]:
        """The first position's log-probabilities after each prompt, the only generable token given or not."""
        requests = [GenerationRequest(ids, 1, READ_SAMPLING, None, prompt.affinity_key,
                                      top_logprobs=TOP_LOGPROBS if only is None else 1,
                                      allowed_token_ids=None if only is None else (only,))
                    for ids, only in reads]
        with self._item_failures(context):
            results = await asyncio.gather(*(context.model.engine.generate(request) for request in requests))
        for result in results:
            self._count_engine_answer(context, result, 0)
        return [result.samples[0].top_logprobs or {} for result in results]

    @contextmanager
    def _item_failures(self, context: JudgingContext) -> Iterator[None]:
        """An engine's timeout or error as this item's failure, counted."""
        try:
            yield
        except EngineTimeout as error:
            self._metrics.engine_requests.labels(context.model.name, "timeout").inc()
            raise ItemFailure("timeout", error.message) from error
        except UpstreamError as error:
            self._metrics.engine_requests.labels(context.model.name, "error").inc()
            raise ItemFailure("engine_error", error.message) from error

    def _count_engine_answer(self, context: JudgingContext, result: GenerationResult, votes: int) -> None:
        """Every engine answer, first draws and forced endings alike; only first draws are votes."""
        name = context.model.name
        self._metrics.engine_requests.labels(name, "ok").inc()
        self._metrics.tokens.labels(name, "prompt").inc(result.prompt_tokens)
        self._metrics.tokens.labels(name, "completion").inc(result.completion_tokens)
        context.usage.add(result.prompt_tokens, result.completion_tokens, votes)

    def _count(self, model: str, version: str, format_name: str, votes: Sequence[Vote[VerdictT]],
               first_answers: Sequence[Sample]) -> None:
        for vote, first in zip(votes, first_answers, strict=True):
            if first.finish_reason == "length" or vote.forced:  # the budget ran out (forced in the engine, or not)
                self._metrics.length_budget_hits.labels(model, version, format_name).inc()
            if vote.forced:
                result = "parse_failure" if isinstance(vote.outcome, ParseFailure) else "verdict"
                self._metrics.forced_endings.labels(model, version, format_name, result).inc()
            if isinstance(vote.outcome, ParseFailure):
                self._metrics.judgments.labels(model, format_name, "parse_failure").inc()
                self._metrics.parse_failures.labels(model, format_name, vote.outcome.category.value).inc()
            else:
                self._metrics.judgments.labels(model, format_name, "ok").inc()
