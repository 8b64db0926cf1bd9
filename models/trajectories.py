"""Agent trajectories as the judge reads them: the messages, their checks, and their framed rendering.

A trajectory is the agent's side of a conversation after the task: `assistant` turns (text and tool calls),
`tool` turns (each the output of one earlier call, by id) and `user` turns. `trajectory_problems` lists what is
wrong with one (no assistant turn, a tool output without its call, fields on the wrong role), each naming the
message's field, so the service answers a 422 that says what to fix. `render` shows messages to the judge:
every text, tool name, call id and argument is neutralized by the judge's framing (a tool's output is untrusted
text and cannot open or close the judge's tags), and attribute values are escaped, so nothing inside can forge
the structure.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from models.formats.framing import Framing

Role = Literal["user", "assistant", "tool"]


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: str


@dataclass(frozen=True)
class Message:
    role: Role
    content: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    name: str | None = None


@dataclass(frozen=True)
class Problem:
    field: str  # relative to the trajectory item: "trajectory", "trajectory.3.tool_call_id", "turns.0"
    message: str


def trajectory_problems(messages: Sequence[Message]) -> list[Problem]:
    problems: list[Problem] = []
    calls: set[str] = set()
    answered: set[str] = set()
    for index, message in enumerate(messages):
        here = f"trajectory.{index}"
        if message.role != "assistant" and message.tool_calls:
            problems.append(Problem(f"{here}.tool_calls", f"a {message.role} message cannot make tool calls; only "
                                    "assistant turns do"))
        if message.role != "tool" and message.tool_call_id is not None:
            problems.append(Problem(f"{here}.tool_call_id", "only a tool message answers a call (tool_call_id)"))
        if message.role == "assistant":
            if message.content is None and not message.tool_calls:
                problems.append(Problem(f"{here}.content", "an assistant turn needs content or tool_calls"))
            for number, call in enumerate(message.tool_calls):
                if call.id in calls:
                    problems.append(Problem(f"{here}.tool_calls.{number}.id", f"tool call id {call.id!r} is used "
                                            "twice; give each call its own id"))
                calls.add(call.id)
        elif message.content is None:
            problems.append(Problem(f"{here}.content", f"a {message.role} message needs content"))
        if message.role == "tool":
            if message.tool_call_id is None:
                problems.append(Problem(f"{here}.tool_call_id", "a tool message must say which call it answers "
                                        "(tool_call_id, the id of an earlier assistant tool call)"))
            elif message.tool_call_id not in calls:
                problems.append(Problem(f"{here}.tool_call_id", f"no earlier assistant turn made a tool call with id "
                                        f"{message.tool_call_id!r}; a tool output must follow its call"))
            elif message.tool_call_id in answered:
                problems.append(Problem(f"{here}.tool_call_id", f"call {message.tool_call_id!r} is answered twice"))
            else:
                answered.add(message.tool_call_id)
    if not any(message.role == "assistant" for message in messages):
        problems.append(Problem("trajectory", "the trajectory has no assistant turn: there is nothing to judge"))
    return problems


def assistant_turns(messages: Sequence[Message]) -> list[int]:
    return [index for index, message in enumerate(messages) if message.role == "assistant"]


def _attribute(value: str, framing: Framing) -> str:
    return html.escape(framing.neutralize(value), quote=True)


def render(messages: Sequence[Message], framing: Framing, first_index: int = 0) -> str:
    """The messages as `<turn>` blocks, each with its role and index; tool calls inside their assistant turn."""
    blocks = []
    for index, message in enumerate(messages, start=first_index):
        attributes = f'role="{message.role}" index="{index}"'
        if message.tool_call_id is not None:
            attributes += f' tool_call_id="{_attribute(message.tool_call_id, framing)}"'
        if message.name is not None:
            attributes += f' name="{_attribute(message.name, framing)}"'
        parts = [framing.neutralize(message.content)] if message.content else []
        parts += [f'<tool_call id="{_attribute(call.id, framing)}" name="{_attribute(call.name, framing)}">\n'
                  f"{framing.neutralize(call.arguments)}\n</tool_call>" for call in message.tool_calls]
        blocks.append(f"<turn {attributes}>\n" + "\n".join(parts) + "\n</turn>")
    return "\n".join(blocks)


def replaced_tool_output(message: Message) -> Message:
    """A tool output dropped by compaction: a note of its length, never the text cut short."""
    length = len(message.content or "")
    return Message("tool", f"[tool output omitted to fit the judge's context: {length} characters]",
                   tool_call_id=message.tool_call_id, name=message.name)
