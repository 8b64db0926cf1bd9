"""The section grammar (`section_regex`, `SectionBudget`) and the strict parser (`parse_sections`)."""

from __future__ import annotations

import math
import re

import pytest

from models.formats import PAIRWISE, POINTWISE
from models.formats.sections import (
    ALL_SECTIONS,
    FREE_TEXT_SECTIONS,
    MIN_SECTION_CHARS,
    SECTION_SHARES,
    FormatFailure,
    ParseFailure,
    SectionBudget,
    minimum_max_tokens,
    parse_sections,
)


def completion(
    think: str = "t", rubrics: str = "r", evaluation: str = "e", answer: str = "7", sep: str = "\n"
) -> str:
    return sep.join(
        [
            f"<think>{think}</think>",
            f"<generate_rubrics>{rubrics}</generate_rubrics>",
            f"<eval>{evaluation}</eval>",
            f"<answer>{answer}</answer>",
        ]
    )


VALID = completion()


def failure(text: str) -> ParseFailure:
    result = parse_sections(text)
    assert isinstance(result, ParseFailure), f"expected a ParseFailure, got {result!r}"
    return result


# --- parse_sections: valid completions ---------------------------------------------------------------------


def test_valid_completion_returns_four_stripped_sections() -> None:
    text = completion(think="  I think.\n", rubrics="\n1. Be right. ", evaluation="\tok\n", answer=" 7 ")
    assert parse_sections(text) == {
        "think": "I think.",
        "generate_rubrics": "1. Be right.",
        "eval": "ok",
        "answer": "7",
    }


def test_sections_keep_their_keys_in_order() -> None:
    result = parse_sections(VALID)
    assert isinstance(result, dict)
    assert list(result) == list(ALL_SECTIONS)


@pytest.mark.parametrize("sep", ["", "\n", "\n\n", "  \t\n ", "\r\n"])
def test_whitespace_between_sections_is_accepted(sep: str) -> None:
    result = parse_sections(completion(sep=sep))
    assert result == {"think": "t", "generate_rubrics": "r", "eval": "e", "answer": "7"}


def test_whitespace_around_the_completion_is_accepted() -> None:
    assert isinstance(parse_sections("\n  " + VALID + "\n\n  "), dict)


def test_free_text_may_hold_non_tag_angle_brackets() -> None:
    result = parse_sections(completion(think="a < b and x<y; <thinking> is not a tag"))
    assert isinstance(result, dict)
    assert result["think"] == "a < b and x<y; <thinking> is not a tag"


# --- parse_sections: every failure category ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "missing"),
    [
        (VALID.replace("<think>", ""), "<think>"),
        (VALID.replace("</think>", ""), "</think>"),
        (VALID.replace("<generate_rubrics>", ""), "<generate_rubrics>"),
        (VALID.replace("</generate_rubrics>", ""), "</generate_rubrics>"),
        (VALID.replace("<eval>", ""), "<eval>"),
        (VALID.replace("</eval>", ""), "</eval>"),
        (VALID.replace("<answer>", ""), "<answer>"),
        (VALID.replace("</answer>", ""), "</answer>"),
    ],
)
def test_missing_tag_is_missing_tags(text: str, missing: str) -> None:
    result = failure(text)
    assert result.category is FormatFailure.MISSING_TAGS
    assert missing in result.detail


def test_empty_completion_names_every_tag() -> None:
    result = failure("")
    assert result.category is FormatFailure.MISSING_TAGS
    for name in ALL_SECTIONS:
        assert f"<{name}>" in result.detail
        assert f"</{name}>" in result.detail


def test_tag_in_other_casing_does_not_count() -> None:
    result = failure(VALID.replace("<answer>", "<ANSWER>").replace("</answer>", "</ANSWER>"))
    assert result.category is FormatFailure.MISSING_TAGS


def test_tag_with_inner_whitespace_does_not_count() -> None:
    result = failure(VALID.replace("</answer>", "</answer >"))
    assert result.category is FormatFailure.MISSING_TAGS
    assert "</answer>" in result.detail


def test_missing_tags_wins_over_misordered() -> None:
    text = "<eval>e</eval><think>t</think><answer>7</answer>"
    assert failure(text).category is FormatFailure.MISSING_TAGS


@pytest.mark.parametrize(
    "text",
    [
        # sections swapped
        "<think>t</think><eval>e</eval><generate_rubrics>r</generate_rubrics><answer>7</answer>",
        # answer first
        "<answer>7</answer><think>t</think><generate_rubrics>r</generate_rubrics><eval>e</eval>",
        # closing tag before its opening tag
        "</think>t<think><generate_rubrics>r</generate_rubrics><eval>e</eval><answer>7</answer>",
        # sections interleaved
        "<think>t<generate_rubrics></think>r</generate_rubrics><eval>e</eval><answer>7</answer>",
    ],
)
def test_misordered_sections(text: str) -> None:
    result = failure(text)
    assert result.category is FormatFailure.MISORDERED_TAGS
    assert "tags appear as" in result.detail


def test_duplicated_answer_block_is_misordered() -> None:
    result = failure(VALID + "\n<answer>10</answer>")
    assert result.category is FormatFailure.MISORDERED_TAGS


def test_duplicated_free_text_section_is_misordered() -> None:
    text = completion().replace("<eval>e</eval>", "<eval>e</eval><eval>again</eval>")
    assert failure(text).category is FormatFailure.MISORDERED_TAGS


@pytest.mark.parametrize(
    "text",
    [
        completion(think="<think>inner</think>"),
        completion(evaluation="see <answer>10</answer>"),
        completion(think="<eval>early</eval>"),
    ],
)
def test_nested_tag_is_misordered(text: str) -> None:
    assert failure(text).category is FormatFailure.MISORDERED_TAGS


def test_text_before_think_is_misordered() -> None:
    result = failure("Sure! Here is my judgment:\n" + VALID)
    assert result.category is FormatFailure.MISORDERED_TAGS
    assert "before <think>" in result.detail


def test_text_between_sections_is_misordered() -> None:
    result = failure(completion(sep="\nand now:\n"))
    assert result.category is FormatFailure.MISORDERED_TAGS
    assert "outside the sections" in result.detail


def test_text_after_answer_is_misordered() -> None:
    result = failure(VALID + "\nI hope this helps.")
    assert result.category is FormatFailure.MISORDERED_TAGS
    assert "after </answer>" in result.detail


# --- SectionBudget -----------------------------------------------------------------------------------------

TAG_CHARS = sum(len(f"<{name}></{name}>") for name in ALL_SECTIONS)
SEPARATOR_CHARS = len(ALL_SECTIONS) - 1
EOS = 1
FORMATS = [(POINTWISE, "10.0"), (PAIRWISE, "A")]


@pytest.mark.parametrize("judge", [POINTWISE, PAIRWISE], ids=lambda f: f.name)
def test_budget_below_minimum_raises_naming_the_minimum(judge: object) -> None:
    answer_chars = judge.answer_max_chars  # type: ignore[attr-defined]
    minimum = minimum_max_tokens(answer_chars)
    assert judge.minimum_max_tokens() == minimum  # type: ignore[attr-defined]
    SectionBudget.for_max_tokens(minimum, answer_chars)  # the minimum itself works
    for too_small in (minimum - 1, minimum // 2, 1, 0):
        with pytest.raises(ValueError, match=rf"max_tokens={too_small}\b") as caught:
            SectionBudget.for_max_tokens(too_small, answer_chars)
        assert str(minimum) in str(caught.value)


def test_minimum_is_overhead_plus_the_smallest_budget_giving_every_section_its_floor() -> None:
    smallest_share = min(SECTION_SHARES.values())
    free = math.ceil(MIN_SECTION_CHARS / smallest_share)
    assert minimum_max_tokens(4) == TAG_CHARS + SEPARATOR_CHARS + 4 + EOS + free


def test_every_section_gets_at_least_min_section_chars() -> None:
    budget = SectionBudget.for_max_tokens(minimum_max_tokens(4), 4)
    assert all(chars >= MIN_SECTION_CHARS for chars in budget.chars.values()), budget.chars


def worst_case_tokens(budget: SectionBudget, answer_chars: int) -> int:
    return TAG_CHARS + SEPARATOR_CHARS + sum(budget.chars.values()) + answer_chars + EOS


def maximal_completion(budget: SectionBudget, answer: str) -> str:
    parts = [f"<{name}>{'x' * budget.chars[name]}</{name}>" for name in FREE_TEXT_SECTIONS]
    return "\n".join([*parts, f"<answer>{answer}</answer>"])


MAX_TOKENS = [122, 123, 127, 128, 200, 256, 333, 512, 1000, 1024, 4096, 32768]


@pytest.mark.parametrize("max_tokens", MAX_TOKENS)
@pytest.mark.parametrize(("judge", "longest_answer"), FORMATS, ids=["pointwise", "pairwise"])
def test_worst_case_completion_fits_max_tokens(judge: object, longest_answer: str, max_tokens: int) -> None:
    answer_chars = judge.answer_max_chars  # type: ignore[attr-defined]
    assert len(longest_answer) == answer_chars
    budget = SectionBudget.for_max_tokens(max_tokens, answer_chars)
    assert set(budget.chars) == set(FREE_TEXT_SECTIONS)
    assert all(chars >= 1 for chars in budget.chars.values())
    assert worst_case_tokens(budget, answer_chars) <= max_tokens

    regex = re.compile(judge.output_regex(max_tokens))  # type: ignore[attr-defined]
    longest = maximal_completion(budget, longest_answer)
    assert regex.fullmatch(longest), "a completion filled to every section's budget must match"
    assert len(longest) + EOS == worst_case_tokens(budget, answer_chars) <= max_tokens
    for name in FREE_TEXT_SECTIONS:
        grown = longest.replace(f"</{name}>", f"x</{name}>")
        assert regex.fullmatch(grown) is None, f"one char more in <{name}> must not match"


@pytest.mark.parametrize("max_tokens", MAX_TOKENS)
def test_budget_uses_the_free_tokens_without_overspending(max_tokens: int) -> None:
    budget = SectionBudget.for_max_tokens(max_tokens, 4)
    free = max_tokens - (TAG_CHARS + SEPARATOR_CHARS + 4 + EOS)
    assert free - len(FREE_TEXT_SECTIONS) < sum(budget.chars.values()) <= free


@pytest.mark.parametrize("answer", ["0", "7", "7.5", "10", "10.0", "9.9"])
def test_pointwise_regex_accepts_scores(answer: str) -> None:
    regex = POINTWISE.output_regex(256)
    assert re.fullmatch(regex, completion(answer=answer))


@pytest.mark.parametrize("answer", ["11", "10.5", "-1", "abc", "1e1", "", " 7", "7.", "07.55", "A"])
def test_pointwise_regex_rejects_bad_scores(answer: str) -> None:
    assert re.fullmatch(POINTWISE.output_regex(256), completion(answer=answer)) is None


@pytest.mark.parametrize("answer", ["A", "B"])
def test_pairwise_regex_accepts_labels(answer: str) -> None:
    assert re.fullmatch(PAIRWISE.output_regex(256), completion(answer=answer))


@pytest.mark.parametrize("answer", ["C", "a", "AB", "A or B", "", "7"])
def test_pairwise_regex_rejects_other_labels(answer: str) -> None:
    assert re.fullmatch(PAIRWISE.output_regex(256), completion(answer=answer)) is None


def test_regex_accepts_printable_text_newlines_and_tabs() -> None:
    text = completion(think="Step 1: a > b; {x} [y] ~`!@#$%^&*()_+-=|\\/?'\",.\n\tdone")
    assert re.fullmatch(POINTWISE.output_regex(512), text)


@pytest.mark.parametrize(
    "section_text",
    ["a<b", "<", "x</think>", "ok <answer>10</answer>"],
)
def test_regex_rejects_angle_bracket_inside_a_section(section_text: str) -> None:
    regex = POINTWISE.output_regex(512)
    for name in ("think", "rubrics", "evaluation"):
        assert re.fullmatch(regex, completion(**{name: section_text})) is None  # type: ignore[arg-type]


@pytest.mark.parametrize("section_text", ["", " ", " text", "\ntext", "\ttext", "\n"])
def test_regex_rejects_blank_or_whitespace_first_section(section_text: str) -> None:
    regex = POINTWISE.output_regex(512)
    for name in ("think", "rubrics", "evaluation"):
        assert re.fullmatch(regex, completion(**{name: section_text})) is None  # type: ignore[arg-type]


@pytest.mark.parametrize("section_text", ["caf\u00e9", "\u2039answer>", "emoji \U0001f600", "nul\x00"])
def test_regex_rejects_non_ascii_and_control_chars(section_text: str) -> None:
    assert re.fullmatch(POINTWISE.output_regex(512), completion(think=section_text)) is None


def test_regex_requires_the_separator_between_sections() -> None:
    regex = POINTWISE.output_regex(512)
    assert re.fullmatch(regex, completion(sep="\n"))
    assert re.fullmatch(regex, completion(sep="")) is None
    assert re.fullmatch(regex, completion(sep="\n\n")) is None


def test_every_regex_match_parses() -> None:
    text = maximal_completion(SectionBudget.for_max_tokens(256, 4), "10.0")
    assert re.fullmatch(POINTWISE.output_regex(256), text)
    verdict = POINTWISE.parse(text)
    assert not isinstance(verdict, ParseFailure)
    assert verdict.score == 10.0
