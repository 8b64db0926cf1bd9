"""The judge's input blocks shared by both formats: task, rubrics and the conversation under evaluation."""

from __future__ import annotations

from collections.abc import Sequence

from models.chat import ChatMessage, Conversation, as_turns
from models.formats.framing import Framing
from models.rubrics import Rubric, RubricSet


def render_rubric(rubric: Rubric) -> str:
    """The rubric as the judge reads it: title, weight, description, then its bands from the top down."""
    bands = "\n".join(
        f"  - {band.min:g}-{band.max:g}: {band.description}"
        for band in sorted(rubric.bands, key=lambda band: band.max, reverse=True)
    )
    return f"{rubric.title} (weight {rubric.weight:g}): {rubric.description}\n{bands}"


def task_and_rubrics_block(task: str, rubrics: RubricSet, framing: Framing) -> str:
    """Rubrics may come inline from a request, so their text is neutralized like any untrusted text."""
    listed = "\n".join(
        f"{number}. {framing.neutralize(render_rubric(rubric))}"
        for number, rubric in enumerate(rubrics.rubrics, start=1)
    )
    return f"<task>{task}</task>\n<rubrics>\n{listed}\n</rubrics>"


def prompt_block(prompt: Conversation, framing: Framing) -> str:
    turns = "\n".join(
        f'<turn role="{turn.role}">\n{framing.neutralize(turn.content)}\n</turn>' for turn in as_turns(prompt)
    )
    return f"<prompt>\n{turns}\n</prompt>"


def judge_messages(
    instructions: str,
    task: str,
    rubrics: RubricSet,
    prompt: Conversation,
    responses: Sequence[tuple[str, str]],
    framing: Framing,
) -> list[ChatMessage]:
    """[system: the format's instructions, user: task, rubrics, conversation, then each (tag, response)]."""
    blocks = [task_and_rubrics_block(task, rubrics, framing), prompt_block(prompt, framing)]
    blocks += [framing.wrap(tag, response) for tag, response in responses]
    return [ChatMessage("system", instructions), ChatMessage("user", "\n".join(blocks))]
