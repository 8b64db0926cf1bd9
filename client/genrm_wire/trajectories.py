"""Wire models of `POST /v1/trajectories`: rewards for multi-turn agents, in the OpenAI chat shape trainers
already produce.

An item is the task (`prompt`) and the agent's `trajectory`: `assistant` turns (text and/or `tool_calls`), `tool`
turns (each answering one earlier call by `tool_call_id`) and `user` turns. Every message and every tool call's
arguments are framed like any text the judge reads: a tool's output is untrusted and cannot forge a verdict.

- `view`: `trace` (default) judges the whole trajectory once; `last` judges the last assistant turn with the
  history before it.
- `turns`: per-turn rewards, one judgment per selected assistant turn with the history before it: `none`
  (default), `last`, `all`, or a list of message indices (each an assistant turn). `turn_scores` comes back
  aligned with `trajectory` (`null` where no turn was judged).
- `compact`: what to do with a trace longer than the judge's context: `none` (default: the item fails
  `too_long`, naming the turn), or `drop_oldest_tool_outputs` (the oldest tool outputs are replaced by a note of
  their length until it fits; the item says how many were dropped). Nothing is ever truncated silently.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from genrm_wire.judging import (
    MAX_TEXT_CHARS,
    ItemOut,
    ItemStatus,
    JudgingRequest,
    JudgingResponse,
    Prompt,
    check_prompt,
)

MAX_MESSAGES = 256
TrajectoryView = Literal["trace", "last"]
TurnSelection = Literal["none", "last", "all"]
Compaction = Literal["none", "drop_oldest_tool_outputs"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class ToolCallFunction(_Strict):
    name: str = Field(min_length=1, max_length=256)
    arguments: str = Field(default="", max_length=MAX_TEXT_CHARS, description="The call's arguments (JSON text).")


class ToolCallIn(_Strict):
    id: str = Field(min_length=1, max_length=256)
    type: Literal["function"] = "function"
    function: ToolCallFunction


class TrajectoryMessageIn(_Strict):
    role: Literal["user", "assistant", "tool"]
    content: str | None = Field(default=None, max_length=MAX_TEXT_CHARS)
    tool_calls: list[ToolCallIn] | None = Field(default=None, max_length=64, description="Assistant turns only.")
    tool_call_id: str | None = Field(default=None, max_length=256, description="Tool turns: the call answered.")
    name: str | None = Field(default=None, max_length=256, description="Tool turns: the tool's name (optional).")


class TrajectoryItemIn(_Strict):
    id: str | None = Field(default=None, max_length=256)
    prompt: Prompt = Field(max_length=MAX_TEXT_CHARS)
    trajectory: list[TrajectoryMessageIn] = Field(min_length=1, max_length=MAX_MESSAGES)
    view: TrajectoryView = "trace"
    turns: TurnSelection | list[int] = Field(default="none", description="Per-turn rewards: none, last, all, or "
                                             "message indices of assistant turns.")

    @model_validator(mode="after")
    def _prompt_not_empty(self) -> TrajectoryItemIn:
        check_prompt(self.prompt)
        return self


class TrajectoryRequest(JudgingRequest):
    task: str = Field(default="agent", pattern=r"^[a-z][a-z0-9_]*$", max_length=64,
                      description="Rubric domain; `agent` has the trajectory criteria (task done, tools used "
                      "correctly, no needless calls).")
    items: list[TrajectoryItemIn] = Field(min_length=1)
    votes: int = Field(default=1, ge=1, description="Judgments per judged view and per judged turn.")
    compact: Compaction = Field(default="none", description="A trace over the judge's context: `none` fails the "
                                "item `too_long`; `drop_oldest_tool_outputs` drops tool outputs, oldest first.")


class TurnOut(BaseModel):
    index: int = Field(description="The assistant turn's index in `trajectory`.")
    status: ItemStatus
    score: float | None = None
    scores: list[float] = Field(default_factory=list)
    error: str | None = None


class TrajectoryItemOut(ItemOut):
    score: float | None = Field(default=None, description="The view's score, 0-10 (mean of its votes).")
    scores: list[float] = Field(default_factory=list)
    std: float | None = None
    turn_scores: list[float | None] = Field(default_factory=list, description="Aligned with `trajectory`: each "
                                            "judged assistant turn's score, null elsewhere.")
    turns: list[TurnOut] = Field(default_factory=list)
    dropped_tool_outputs: int = Field(default=0, description="Tool outputs `compact` replaced by a note.")


class TrajectoryResponse(JudgingResponse):
    items: list[TrajectoryItemOut]
