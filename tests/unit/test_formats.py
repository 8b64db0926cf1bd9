"""The pointwise and pairwise formats: answer parsing and the judge's prompt."""

from __future__ import annotations

from pathlib import Path

import pytest

from models.chat import ChatMessage
from models.formats import (
    PAIRWISE,
    POINTWISE,
    FormatFailure,
    PairwiseVerdict,
    ParseFailure,
    PointwiseVerdict,
)
from models.formats.framing import Framing
from models.rubrics import RubricLibrary, RubricSet

RUBRICS_DIR = Path(__file__).resolve().parents[2] / "rubrics"
# These tests check the format itself; the injection suite covers special-token defusing.
NO_SPECIAL_TOKENS = Framing(())


def completion(answer: str) -> str:
    return (
        "<think>Consider the task.</think>\n"
        "<generate_rubrics>1. Shows work.</generate_rubrics>\n"
        "<eval>Correct and clear.</eval>\n"
        f"<answer>{answer}</answer>"
    )


@pytest.fixture(scope="module")
def math_rubrics() -> RubricSet:
    return RubricLibrary.load(RUBRICS_DIR).primary("math")


# --- pointwise parse ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "score"),
    [("0", 0.0), ("7", 7.0), ("7.5", 7.5), ("10", 10.0), ("10.0", 10.0), (" 3 ", 3.0), ("\n9.9\n", 9.9)],
)
def test_pointwise_accepts_scores(answer: str, score: float) -> None:
    verdict = POINTWISE.parse(completion(answer))
    assert isinstance(verdict, PointwiseVerdict)
    assert verdict.score == score
    assert verdict.think == "Consider the task."
    assert verdict.generated_rubrics == "1. Shows work."
    assert verdict.evaluation == "Correct and clear."


@pytest.mark.parametrize(
    "answer",
    [
        "11",
        "-1",
        "abc",
        "1e1",
        "nan",
        "NaN",
        "inf",
        "",
        "10.5",
        "100",
        "7.",
        ".5",
        "+7",
        "7/10",
        "seven",
        "7 8",
    ],
)
def test_pointwise_rejects_invalid_answers(answer: str) -> None:
    result = POINTWISE.parse(completion(answer))
    assert isinstance(result, ParseFailure)
    assert result.category is FormatFailure.INVALID_ANSWER


def test_pointwise_passes_section_failures_through() -> None:
    result = POINTWISE.parse(completion("7") + " trailing")
    assert isinstance(result, ParseFailure)
    assert result.category is FormatFailure.MISORDERED_TAGS
    result = POINTWISE.parse("<answer>7</answer>")
    assert isinstance(result, ParseFailure)
    assert result.category is FormatFailure.MISSING_TAGS


def test_pointwise_invalid_answer_detail_is_bounded() -> None:
    result = POINTWISE.parse(completion("x" * 1000))
    assert isinstance(result, ParseFailure)
    assert len(result.detail) < 100


# --- pairwise parse ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("answer", "winner"), [("A", "A"), ("B", "B"), (" A ", "A"), ("\nB\n", "B")])
def test_pairwise_accepts_a_or_b(answer: str, winner: str) -> None:
    verdict = PAIRWISE.parse(completion(answer))
    assert isinstance(verdict, PairwiseVerdict)
    assert verdict.winner == winner
    assert verdict.evaluation == "Correct and clear."


@pytest.mark.parametrize("answer", ["C", "a", "b", "A or B", "", "AB", "A.", "Response A", "tie", "1"])
def test_pairwise_rejects_other_answers(answer: str) -> None:
    result = PAIRWISE.parse(completion(answer))
    assert isinstance(result, ParseFailure)
    assert result.category is FormatFailure.INVALID_ANSWER


# --- prompt building ---------------------------------------------------------------------------------------


def test_pointwise_messages(math_rubrics: RubricSet) -> None:
    messages = POINTWISE.build_messages("math", math_rubrics, "What is 2+2?", "It is 4.", NO_SPECIAL_TOKENS)
    assert [m.role for m in messages] == ["system", "user"]
    system, user = messages
    assert "<answer>" in system.content and "0 to 10" in system.content
    assert "<task>math</task>" in user.content
    assert len(math_rubrics.rubrics) == 2
    for rubric in math_rubrics.rubrics:
        assert rubric.title in user.content
        assert rubric.description in user.content
    assert '<prompt>\n<turn role="user">\nWhat is 2+2?\n</turn>\n</prompt>' in user.content
    assert "<response>\nIt is 4.\n</response>" in user.content
    assert user.content.endswith("</response>")
    assert "<response_a>" not in user.content


def test_pointwise_block_order(math_rubrics: RubricSet) -> None:
    user = POINTWISE.build_messages("math", math_rubrics, "Q?", "R.", NO_SPECIAL_TOKENS)[1].content
    positions = [user.index(tag) for tag in ("<task>", "<rubrics>", "</rubrics>", "<prompt>", "<response>")]
    assert positions == sorted(positions)


def test_rubrics_are_numbered_in_order(math_rubrics: RubricSet) -> None:
    user = POINTWISE.build_messages("math", math_rubrics, "Q?", "R.", NO_SPECIAL_TOKENS)[1].content
    for number, rubric in enumerate(math_rubrics.rubrics, start=1):
        assert f"{number}. {rubric.title} (weight" in user


def test_conversation_prompt_renders_every_turn(math_rubrics: RubricSet) -> None:
    conversation = [
        ChatMessage("system", "Be terse."),
        ChatMessage("user", "What is 2+2?"),
        ChatMessage("assistant", "4"),
        ChatMessage("user", "And 3+3?"),
    ]
    user = POINTWISE.build_messages("math", math_rubrics, conversation, "6", NO_SPECIAL_TOKENS)[1].content
    expected = "\n".join(f'<turn role="{m.role}">\n{m.content}\n</turn>' for m in conversation)
    assert f"<prompt>\n{expected}\n</prompt>" in user
    assert user.count("<turn ") == 4
    assert user.count("</turn>") == 4


def test_pairwise_messages(math_rubrics: RubricSet) -> None:
    messages = PAIRWISE.build_messages(
        "math", math_rubrics, "What is 2+2?", "It is 4.", "It is 5.", NO_SPECIAL_TOKENS
    )
    assert [m.role for m in messages] == ["system", "user"]
    system, user = messages
    assert "A or B" in system.content
    assert "<task>math</task>" in user.content
    for rubric in math_rubrics.rubrics:
        assert rubric.title in user.content
    assert '<turn role="user">\nWhat is 2+2?\n</turn>' in user.content
    assert "<response_a>\nIt is 4.\n</response_a>\n<response_b>\nIt is 5.\n</response_b>" in user.content
    assert user.content.endswith("</response_b>")
    assert "<response>" not in user.content


def test_pairwise_swap_swaps_the_blocks(math_rubrics: RubricSet) -> None:
    ab = PAIRWISE.build_messages("math", math_rubrics, "Q?", "first", "second", NO_SPECIAL_TOKENS)[1].content
    ba = PAIRWISE.build_messages("math", math_rubrics, "Q?", "second", "first", NO_SPECIAL_TOKENS)[1].content
    assert "<response_a>\nfirst\n</response_a>\n<response_b>\nsecond\n</response_b>" in ab
    assert "<response_a>\nsecond\n</response_a>\n<response_b>\nfirst\n</response_b>" in ba
    prefix = ab[: ab.index("<response_a>")]
    assert ba.startswith(prefix), "only the responses differ between the two orders"


def test_system_message_is_shared_across_items(math_rubrics: RubricSet) -> None:
    one = POINTWISE.build_messages("math", math_rubrics, "Q1", "R1", NO_SPECIAL_TOKENS)[0]
    two = POINTWISE.build_messages("chat", math_rubrics, "Q2", "R2", NO_SPECIAL_TOKENS)[0]
    assert one == two


def test_formats_expose_names_and_minimums() -> None:
    assert POINTWISE.name == "pointwise"
    assert PAIRWISE.name == "pairwise"
    assert POINTWISE.minimum_max_tokens() > PAIRWISE.minimum_max_tokens()
