"""The judge's input blocks shared by both formats: task, rubrics and the conversation under evaluation."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from models.chat import ChatMessage, Conversation, as_turns
from models.formats.framing import neutralize, wrap
from models.rubrics import Rubric, RubricSet


def render_rubric(rubric: Rubric) -> str:
    """The rubric as the judge reads it: title, weight, description, then its bands from the top down."""
    bands = "\n".join(
        f"  - {band.min:g}-{band.max:g}: {band.description}"
        for band in sorted(rubric.bands, key=lambda band: band.max, reverse=True)
    )
    return f"{rubric.title} (weight {rubric.weight:g}): {rubric.description}\n{bands}"


def task_and_rubrics_block(task: str, rubrics: RubricSet, special_tokens: Iterable[str]) -> str:
    """Rubrics may come inline from a request, so their text is neutralized like any untrusted text."""
    specials = tuple(special_tokens)
    listed = "\n".join(
        f"{number}. {neutralize(render_rubric(rubric), specials)}"
        for number, rubric in enumerate(rubrics.rubrics, start=1)
    )
    return f"<task>{task}</task>\n<rubrics>\n{listed}\n</rubrics>"


def prompt_block(prompt: Conversation, special_tokens: Iterable[str]) -> str:
    specials = tuple(special_tokens)
    turns = "\n".join(
        f'<turn role="{turn.role}">\n{neutralize(turn.content, specials)}\n</turn>' for turn in as_turns(prompt)
    )
    return f"<prompt>\n{turns}\n</prompt>"


def judge_messages(
    instructions: str,
    task: str,
    rubrics: RubricSet,
    prompt: Conversation,
    responses: Sequence[tuple[str, str]],
    special_tokens: Iterable[str],
) -> list[ChatMessage]:
    """[system: the format's instructions, user: task, rubrics, conversation, then each (tag, response)]."""
    specials = tuple(special_tokens)
    blocks = [task_and_rubrics_block(task, rubrics, specials), prompt_block(prompt, specials)]
    blocks += [wrap(tag, response, specials) for tag, response in responses]
    return [ChatMessage("system", instructions), ChatMessage("user", "\n".join(blocks))]
