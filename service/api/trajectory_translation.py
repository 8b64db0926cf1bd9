"""`/v1/trajectories` between the wire and the judging layer: trajectories checked (each problem a 422 naming
the item's field) and their turn selection resolved; outcomes back into the response's items, `turn_scores`
aligned with each trajectory."""

from __future__ import annotations

from collections.abc import Sequence

from genrm_wire.trajectories import (
    TrajectoryItemIn,
    TrajectoryItemOut,
    TrajectoryMessageIn,
    TrajectoryRequest,
    TurnOut,
)
from models.chat import to_conversation
from models.trajectories import Message, ToolCall, assistant_turns, trajectory_problems
from service.api.translation import common_out, item_id
from service.errors import InvalidRequest
from service.judging.items import TrajectoryItem, TrajectoryOutcome, TrajectorySettings
from service.judging.trajectories import engine_requests as item_requests


def message_in(given: TrajectoryMessageIn) -> Message:
    calls = tuple(ToolCall(call.id, call.function.name, call.function.arguments) for call in given.tool_calls or ())
    return Message(given.role, given.content, calls, given.tool_call_id, given.name)


def _turns(item: TrajectoryItemIn, messages: Sequence[Message], index: int) -> tuple[int, ...]:
    assistant = assistant_turns(messages)
    if item.turns == "none":
        return ()
    if item.turns == "last":
        return (assistant[-1],)
    if item.turns == "all":
        return tuple(assistant)
    for number, chosen in enumerate(item.turns):
        if chosen not in assistant:
            raise InvalidRequest(f"turns[{number}] = {chosen} is not an assistant turn of the trajectory (those are "
                                 f"{assistant}); per-turn rewards are for assistant turns",
                                 param=f"items.{index}.turns.{number}")
    return tuple(sorted(set(item.turns)))


def trajectory_items(items: Sequence[TrajectoryItemIn]) -> list[TrajectoryItem]:
    judged = []
    for index, item in enumerate(items):
        messages = tuple(message_in(message) for message in item.trajectory)
        problems = trajectory_problems(messages)
        if problems:
            first = problems[0]
            raise InvalidRequest(first.message + (f" (and {len(problems) - 1} more problems)" if len(problems) > 1
                                                  else ""), param=f"items.{index}.{first.field}")
        judged.append(TrajectoryItem(item_id(item.id, index), to_conversation(item.prompt), messages, item.view,
                                     _turns(item, messages, index)))
    return judged


def trajectory_settings(body: TrajectoryRequest) -> TrajectorySettings:
    return TrajectorySettings(votes=body.votes, include_judgments=body.include_judgments, compact=body.compact,
                              verdict=body.verdict)


def engine_requests(items: Sequence[TrajectoryItem]) -> int:
    return sum(item_requests(item) for item in items)


def trajectory_item_out(outcome: TrajectoryOutcome) -> TrajectoryItemOut:
    turn_scores: list[float | None] = [None] * outcome.messages
    for turn in outcome.turns:
        turn_scores[turn.index] = turn.score
    turns = [TurnOut(index=turn.index, status=turn.status, score=turn.score, scores=list(turn.scores), error=turn.error)
             for turn in outcome.turns]
    return TrajectoryItemOut.model_validate({
        **common_out(outcome), "score": outcome.score, "scores": list(outcome.scores), "std": outcome.std,
        "turn_scores": turn_scores, "turns": turns, "dropped_tool_outputs": outcome.dropped_tool_outputs,
    })
