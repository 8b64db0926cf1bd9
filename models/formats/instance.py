"""The judge's input blocks shared by both formats: task, rubrics and the conversation under evaluation."""

from __future__ import annotations

from collections.abc import Iterable

from models.chat import Conversation, as_turns
from models.formats.framing import neutralize, wrap
from models.rubrics import RubricSet


def task_and_rubrics_block(task: str, rubrics: RubricSet, special_tokens: Iterable[str]) -> str:
    """Rubrics may come inline from a request, so their text is neutralized like any untrusted text."""
    specials = tuple(special_tokens)
    listed = "\n".join(
        f"{number}. {neutralize(rubric.render(), specials)}"
        for number, rubric in enumerate(rubrics.rubrics, start=1)
    )
    return f"<task>{task}</task>\n<rubrics>\n{listed}\n</rubrics>"


def prompt_block(prompt: Conversation, special_tokens: Iterable[str]) -> str:
    specials = tuple(special_tokens)
    turns = "\n".join(
        f'<turn role="{turn.role}">\n{neutralize(turn.content, specials)}\n</turn>' for turn in as_turns(prompt)
    )
    return f"<prompt>\n{turns}\n</prompt>"


def response_block(tag: str, response: str, special_tokens: Iterable[str]) -> str:
    return wrap(tag, response, special_tokens)
