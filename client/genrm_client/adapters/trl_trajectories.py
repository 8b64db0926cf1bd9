"""TRL reward functions for agents: each completion, TRL's multi-turn tool-calling conversation, judged as a
trajectory (`POST /v1/trajectories`); the reward is the trace's 0-10 score times `scale`.

    from genrm_client import JudgeClient
    from genrm_client.adapters.trl_trajectories import TrajectoryReward
    trainer = GRPOTrainer(..., tools=[search], reward_funcs=[TrajectoryReward(JudgeClient(url))])

TRL's tool loop writes tool calls without ids (`{"type": "function", "function": {"name", "arguments": {...}}}`)
and each result as `{"role": "tool", "name", "content"}`, in the order of the calls. `trajectory_messages` turns
that into the wire's shape: each call gets an id (its own, when it has one), each result the id of the call it
answers (the oldest unanswered, as TRL appends them), and arguments become JSON text. A plain-text completion is
one assistant turn.

`view="last"` judges the final answer with the trace before it; `turns="all"` also judges every assistant turn
with its history, and `last_items` keeps the batch's answers (`turn_scores` aligned with each trajectory) for a
trainer that credits turns. A completion whose judgment failed gets `None` (TRL leaves it out); a completion
with no assistant text and no tool call has nothing to judge and gets 0 without being sent.
`AsyncTrajectoryReward` is the same on an `AsyncJudgeClient`.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Sequence
from typing import Any, TypedDict, Unpack

from genrm_client.adapters.trl import prompt_value
from genrm_client.client import AsyncJudgeClient, JudgeClient
from genrm_wire import (
    Compaction,
    FlagPolicy,
    SamplingIn,
    TrajectoryItemOut,
    TrajectoryRequest,
    TrajectoryResponse,
    TrajectoryView,
    TurnSelection,
)


def _text(content: Any) -> str | None:
    """A message's text: a string as it is, a list of content parts as its text parts joined."""
    if content is None or isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return str(content)


def _arguments(arguments: Any) -> str:
    return arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False, sort_keys=True)


def trajectory_messages(completion: Any) -> list[dict[str, Any]]:
    """TRL's completion (a string, or its list of messages) as `/v1/trajectories` messages, calls and results
    paired by id."""
    if isinstance(completion, str):
        return [{"role": "assistant", "content": completion}]
    messages, unanswered = [], deque[str]()
    for position, message in enumerate(completion):
        role = str(message["role"])
        out: dict[str, Any] = {"role": role, "content": _text(message.get("content"))}
        if role == "assistant" and message.get("tool_calls"):
            calls = []
            for number, call in enumerate(message["tool_calls"]):
                call_id = str(call.get("id") or f"call_{position}_{number}")
                function = call.get("function", call)
                calls.append({"id": call_id, "type": "function",
                              "function": {"name": str(function["name"]),
                                           "arguments": _arguments(function.get("arguments", ""))}})
                unanswered.append(call_id)
            out["tool_calls"] = calls
        if role == "tool":
            given = message.get("tool_call_id")
            if given is not None and given in unanswered:
                unanswered.remove(given)
            out["tool_call_id"] = given if given is not None else (unanswered.popleft() if unanswered else None)
            if message.get("name"):
                out["name"] = str(message["name"])
        messages.append(out)
    return messages


def _judgeable(messages: Sequence[dict[str, Any]]) -> bool:
    return any(m["role"] == "assistant" and ((m["content"] or "").strip() or m.get("tool_calls")) for m in messages)


class TrajectoryRewardSettings(TypedDict, total=False):
    scale: float
    view: TrajectoryView
    turns: TurnSelection
    compact: Compaction
    task: str
    rubric_ids: list[str] | None
    votes: int
    model: str | None
    sampling: SamplingIn | None
    timeout_s: float | None
    on_flag: FlagPolicy | None


class _TrajectoryPlan:
    __name__ = "genrm_trajectory"

    def __init__(self, *, scale: float = 0.1, view: TrajectoryView = "trace", turns: TurnSelection = "none",
                 compact: Compaction = "none", task: str = "agent", rubric_ids: list[str] | None = None,
                 votes: int = 1, model: str | None = None, sampling: SamplingIn | None = None,
                 timeout_s: float | None = None, on_flag: FlagPolicy | None = None) -> None:
        self.scale, self.view, self.turns, self.compact = scale, view, turns, compact
        self.task, self.rubric_ids, self.votes, self.model = task, rubric_ids, votes, model
        self.sampling, self.timeout_s, self.on_flag = sampling, timeout_s, on_flag or FlagPolicy()
        self.last_items: list[TrajectoryItemOut] = []

    def _request(self, prompts: list[Any], completions: list[Any]) -> tuple[TrajectoryRequest | None, list[int]]:
        """The request for the completions with something to judge, and their indices in the batch."""
        trajectories = [trajectory_messages(completion) for completion in completions]
        sent = [index for index, messages in enumerate(trajectories) if _judgeable(messages)]
        if not sent:
            return None, sent
        body: dict[str, Any] = {
            "task": self.task, "votes": self.votes, "model": self.model, "sampling": self.sampling,
            "timeout_s": self.timeout_s, "on_flag": self.on_flag, "compact": self.compact,
            "items": [{"id": str(index), "prompt": prompt_value(prompts[index]), "trajectory": trajectories[index],
                       "view": self.view, "turns": self.turns} for index in sent]}
        if self.rubric_ids is not None:
            body["rubric_ids"] = self.rubric_ids
        return TrajectoryRequest.model_validate(body), sent

    def _read(self, answer: TrajectoryResponse | None, sent: list[int], size: int) -> list[float | None]:
        rewards: list[float | None] = [0.0] * size  # nothing the agent did: no reward
        self.last_items = [] if answer is None else list(answer.items)
        for index, item in zip(sent, self.last_items, strict=True):
            rewards[index] = item.score * self.scale if item.status == "ok" and item.score is not None else None
        return rewards


class TrajectoryReward(_TrajectoryPlan):
    def __init__(self, judge: JudgeClient, **settings: Unpack[TrajectoryRewardSettings]) -> None:
        super().__init__(**settings)
        self.judge = judge

    def __call__(self, prompts: list[Any], completions: list[Any], completion_ids: Any = None,
                 **columns: Any) -> list[float | None]:
        request, sent = self._request(prompts, completions)
        return self._read(None if request is None else self.judge.trajectories(request), sent, len(completions))


class AsyncTrajectoryReward(_TrajectoryPlan):
    def __init__(self, judge: AsyncJudgeClient, **settings: Unpack[TrajectoryRewardSettings]) -> None:
        super().__init__(**settings)
        self.judge = judge

    async def __call__(self, prompts: list[Any], completions: list[Any], completion_ids: Any = None,
                       **columns: Any) -> list[float | None]:
        request, sent = self._request(prompts, completions)
        answer = None if request is None else await self.judge.trajectories(request)
        return self._read(answer, sent, len(completions))
