"""`TrajectoryJudge`: an agent's trajectory scored as a whole (`view: trace`) or at its last assistant turn
(`view: last`), and per assistant turn (`turns`), each with the history before it.

All of an item's judgments carry one affinity key, so a pool keeps them on one engine. The per-turn prompts share
a growing prefix (instructions, task, history); the first selected turn is judged before the rest, so the
engine's prefix cache holds that prefix for them (an engine shares no prefix between requests that compute it at
the same moment).

With `view: last` and the last assistant turn among `turns`, that turn's judgment is the view's (the prompts are
the same), so it is judged once.

A judgment whose prompt does not fit the judge's context fails `too_long`, naming the turn, unless the request
asked for `compact: drop_oldest_tool_outputs`: then tool outputs are replaced by a note of their length, oldest
first, until it fits (the item reports how many). A failed turn fails alone; the item's status is its view's.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

from models.chat import ChatMessage
from models.formats import PointwiseVerdict
from models.formats.pointwise import MIN_SCORE
from models.formats.trajectory import TRAJECTORY
from models.trajectories import Message, assistant_turns, replaced_tool_output
from service.judging import telemetry, verdict_reading
from service.judging.aggregation import aggregate_scores
from service.judging.batch import BatchJudge
from service.judging.cache_keys import prompt_affinity
from service.judging.context import ItemFailure, JudgingContext
from service.judging.flagging import Responses
from service.judging.items import TrajectoryItem, TrajectoryOutcome, TrajectorySettings, TurnResult
from service.judging.runner import PreparedPrompt, Vote, failure_counts, judgment_of
from service.judging.scoring import none_parsed, vote_score, vote_scores

ROUTE = "/v1/trajectories"
Build = Callable[[Sequence[Message]], list[ChatMessage]]


@dataclasses.dataclass(frozen=True)
class _Judged:
    votes: list[Vote[PointwiseVerdict]]
    dropped: int


class TrajectoryJudge(BatchJudge[TrajectoryItem, TrajectorySettings, TrajectoryOutcome]):
    route = ROUTE
    format_name = TRAJECTORY.name
    outcome_type = TrajectoryOutcome

    async def judge_item(self, item: TrajectoryItem, settings: TrajectorySettings,
                         context: JudgingContext) -> TrajectoryOutcome:
        affinity = prompt_affinity(context, item.prompt)
        turns: list[TurnResult | _Judged] = []
        if item.turns:  # the first turn alone: its prefix is then in the engine's cache for the others
            turns.append(await self._judge_turn(item, item.turns[0], settings, context, affinity))
        later = asyncio.gather(*(self._judge_turn(item, index, settings, context, affinity)
                                 for index in item.turns[1:]))
        if view_is_a_judged_turn(item):  # the view is the last turn's judgment: judged once
            turns += await later
            last = item.turns.index(assistant_turns(item.messages)[-1])
            return _outcome(item, _as_view(turns[last]), turns, settings)
        view, rest = await asyncio.gather(self._judge_view(item, settings, context, affinity), later)
        return _outcome(item, view, [*turns, *rest], settings)

    def responses(self, item: TrajectoryItem) -> Responses:
        """The agent's own texts: its turns and its tool calls' arguments (tool outputs are the environment's)."""
        found: list[tuple[str, str]] = []
        for index, message in enumerate(item.messages):
            if message.role == "assistant" and message.content:
                found.append((f"trajectory.{index}.content", message.content))
            for number, call in enumerate(message.tool_calls):
                found.append((f"trajectory.{index}.tool_calls.{number}.arguments", call.arguments))
        return tuple(found)

    def penalized(self, item: TrajectoryItem, fields: set[str]) -> TrajectoryOutcome:
        """The floor, for the trajectory and every selected turn."""
        turns = tuple(TurnResult(index, "ok", MIN_SCORE) for index in item.turns)
        return TrajectoryOutcome(id=item.id, status="ok", score=MIN_SCORE, turns=turns, messages=len(item.messages))

    async def _judge_view(self, item: TrajectoryItem, settings: TrajectorySettings, context: JudgingContext,
                          affinity: str) -> _Judged | ItemFailure:
        model = context.model
        if item.view == "trace":
            def build(messages: Sequence[Message]) -> list[ChatMessage]:
                return TRAJECTORY.build_trace(context.task, context.rubrics, item.prompt, messages, model.framing)
            where = f"the whole trace ({len(item.messages)} messages)"
        else:
            last = assistant_turns(item.messages)[-1]
            def build(messages: Sequence[Message]) -> list[ChatMessage]:
                return TRAJECTORY.build_turn(context.task, context.rubrics, item.prompt, messages[:last],
                                             messages[last], model.framing)
            where = f"the last assistant turn (message {last}) with its history"
        try:
            return await self._draw(context, build, item.messages, settings, affinity, where)
        except ItemFailure as failure:
            return failure

    async def _judge_turn(self, item: TrajectoryItem, index: int, settings: TrajectorySettings,
                          context: JudgingContext, affinity: str) -> TurnResult | _Judged:
        model = context.model

        def build(messages: Sequence[Message]) -> list[ChatMessage]:
            return TRAJECTORY.build_turn(context.task, context.rubrics, item.prompt, messages[:index],
                                         messages[index], model.framing)

        try:
            return await self._draw(context, build, item.messages[:index + 1], settings, affinity,
                                    f"assistant turn {index} with its history")
        except ItemFailure as failure:
            return TurnResult(index, failure.status, error=failure.message)

    async def _draw(self, context: JudgingContext, build: Build, messages: Sequence[Message],
                    settings: TrajectorySettings, affinity: str, where: str) -> _Judged:
        prompt, dropped = self._fitted(context, build, messages, settings, where)
        if settings.verdict == "direct":
            reading = await verdict_reading.read_direct(self._runner, context, TRAJECTORY, prompt)
            return _Judged([verdict_reading.direct_vote(TRAJECTORY, reading)], dropped)
        votes = await self._runner.draw(context, prompt, settings.votes)
        telemetry.record_votes(self._metrics, self.route, settings.votes, len(votes))
        if settings.verdict == "expected":
            readings = await verdict_reading.read_votes(self._runner, context, TRAJECTORY, prompt, votes)
            votes = [verdict_reading.expected_vote(TRAJECTORY, vote, reading)
                     for vote, reading in zip(votes, readings, strict=True)]
        return _Judged(votes, dropped)

    def _fitted(self, context: JudgingContext, build: Build, messages: Sequence[Message],
                settings: TrajectorySettings, where: str) -> tuple[PreparedPrompt[PointwiseVerdict], int]:
        """The prompt, with the oldest tool outputs dropped while it does not fit (only under compaction)."""
        current, dropped, tool_outputs = list(messages), 0, [n for n, m in enumerate(messages) if m.role == "tool"]
        while True:
            try:
                return self._runner.prepare(context, TRAJECTORY, build(current)), dropped
            except ItemFailure as failure:
                if failure.status != "too_long":
                    raise
                if settings.compact == "none" or dropped == len(tool_outputs):
                    advice = ("; or send compact: drop_oldest_tool_outputs" if settings.compact == "none"
                              else f" even with {dropped} tool outputs dropped")
                    raise ItemFailure("too_long", f"{where} does not fit the judge's context: {failure.message}"
                                      f"{advice}") from None
                oldest = tool_outputs[dropped]
                current[oldest] = replaced_tool_output(current[oldest])
                dropped += 1



def _outcome(item: TrajectoryItem, view: _Judged | ItemFailure, turns: Sequence[TurnResult | _Judged],
             settings: TrajectorySettings) -> TrajectoryOutcome:
    turn_results = tuple(turn if isinstance(turn, TurnResult) else _turn_result(index, turn)
                         for index, turn in zip(item.turns, turns, strict=True))
    common: dict[str, Any] = {"id": item.id, "turns": turn_results, "messages": len(item.messages)}
    if isinstance(view, ItemFailure):
        return TrajectoryOutcome(status=view.status, error=view.message, **common)
    scores = vote_scores(view.votes)
    failures = failure_counts(view.votes)
    judgments = tuple(judgment_of(vote, score=vote_score(vote)) for vote in view.votes) \
        if settings.include_judgments else None
    if not scores:
        return TrajectoryOutcome(status="parse_failed", error=none_parsed(view.votes), parse_failures=failures,
                                 judgments=judgments, **common)
    score, spread = aggregate_scores(scores, "mean")
    return TrajectoryOutcome(status="ok", score=score, scores=tuple(scores), std=spread, votes_used=len(scores),
                             parse_failures=failures, judgments=judgments, dropped_tool_outputs=view.dropped,
                             **common)


def view_is_a_judged_turn(item: TrajectoryItem) -> bool:
    return item.view == "last" and assistant_turns(item.messages)[-1] in item.turns


def engine_requests(item: TrajectoryItem) -> int:
    """The judgments an item takes per vote: its view's and its turns', the view's only when it is not a turn."""
    return len(item.turns) + (0 if view_is_a_judged_turn(item) else 1)


def _as_view(turn: TurnResult | _Judged) -> _Judged | ItemFailure:
    """The last turn's judgment as the `last` view's (a failed turn: the view's failure)."""
    return turn if isinstance(turn, _Judged) else ItemFailure(turn.status, turn.error or turn.status)


def _turn_result(index: int, judged: _Judged) -> TurnResult:
    scores = vote_scores(judged.votes)
    if not scores:
        return TurnResult(index, "parse_failed", error=none_parsed(judged.votes))
    return TurnResult(index, "ok", aggregate_scores(scores, "mean")[0], tuple(scores))

