"""The section grammar (free reasoning, then a forced ending within the budget) and the strict parser."""

from __future__ import annotations

import random
import re

import pytest

from models.chat import ChatTemplate
from models.formats import PAIRWISE, POINTWISE
from models.formats.sections import (
    ALL_SECTIONS,
    MIN_REASONING_TOKENS,
    PLACEHOLDER,
    FormatFailure,
    ParseFailure,
    TokenCount,
    continuation_to_answer,
    ending_tokens,
    every_written_ending,
    free_text_regex,
    minimum_max_tokens,
    parse_sections,
    utf8_bytes,
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


# --- The budget: free reasoning, a reserve for the forced ending ------------------------------------------

EOS = 1
FORMATS = [(POINTWISE, "10.0"), (PAIRWISE, "A")]
RESERVED_TAGS = [f"<{slash}{name}>" for name in ALL_SECTIONS for slash in ("", "/")]
WORST_WRITTEN = (f"<think>{PLACEHOLDER}</think>\n<generate_rubrics>{PLACEHOLDER}</generate_rubrics>\n"
                 f"<eval>{PLACEHOLDER}</eval>\n<answer>")


@pytest.mark.parametrize("judge", [POINTWISE, PAIRWISE], ids=lambda f: f.name)
def test_budget_below_minimum_raises_naming_the_minimum(judge: object) -> None:
    minimum = judge.minimum_max_tokens()  # type: ignore[attr-defined]
    assert minimum == minimum_max_tokens(judge.answer_max_chars)  # type: ignore[attr-defined]
    assert judge.reasoning_tokens(minimum) == MIN_REASONING_TOKENS  # type: ignore[attr-defined]
    for too_small in (minimum - 1, minimum // 2, 1, 0):
        with pytest.raises(ValueError, match=rf"max_tokens={too_small}\b") as caught:
            judge.output_regex(too_small)  # type: ignore[attr-defined]
        assert str(minimum) in str(caught.value)


@pytest.fixture
def bundled_count(chat_template: ChatTemplate) -> TokenCount:
    return lambda text: len(chat_template.encode_literal(text))


def test_without_a_tokenizer_the_reserve_is_the_longest_written_ending_in_bytes_and_the_answer() -> None:
    assert max(every_written_ending(), key=utf8_bytes) == WORST_WRITTEN
    assert ending_tokens(4) == len(WORST_WRITTEN) + 4 + len("</answer>") + EOS


@pytest.mark.parametrize(("judge", "longest_answer"), FORMATS, ids=["pointwise", "pairwise"])
def test_the_judges_tokenizer_halves_the_reserve(judge: object, longest_answer: str,
                                                bundled_count: TokenCount) -> None:
    """The bundled judge's tokenizer writes the fixed part in far fewer tokens than bytes: the reserve it gives
    is the longest written part's real token count plus the answer at a token per byte."""
    count = bundled_count
    reserve = judge.ending_tokens(count)  # type: ignore[attr-defined]
    assert reserve == max(count(text) for text in every_written_ending()) + judge.answer_tokens()  # type: ignore
    assert reserve <= 0.6 * judge.ending_tokens()  # type: ignore[attr-defined]


MAX_TOKENS = [70, 118, 119, 128, 192, 200, 256, 512, 1024, 4096, 32768]


@pytest.mark.parametrize("max_tokens", MAX_TOKENS)
@pytest.mark.parametrize(("judge", "longest_answer"), FORMATS, ids=["pointwise", "pairwise"])
def test_the_reasoning_is_the_budget_less_only_the_reserve(judge: object, longest_answer: str,
                                                          max_tokens: int, bundled_count: TokenCount) -> None:
    count = bundled_count
    reasoning = judge.reasoning_tokens(max_tokens, count)  # type: ignore[attr-defined]
    assert reasoning + judge.ending_tokens(count) == max_tokens  # type: ignore[attr-defined]
    assert reasoning >= max_tokens - 60


def longest_forced_ending(judge: object, partial: str, answer: str) -> tuple[str, str]:
    """(what the service writes, the longest answer the judge may write after it) from `partial`'s state."""
    ending = judge.forced_ending(partial)  # type: ignore[attr-defined]
    assert ending is not None
    written = f"{answer}</answer>"
    assert re.fullmatch(ending.regex, written), written
    return ending.written, written


@pytest.mark.parametrize("counted_by", ["bytes", "bundled-tokenizer"])
@pytest.mark.parametrize(("judge", "longest_answer"), FORMATS, ids=["pointwise", "pairwise"])
@pytest.mark.parametrize("partial", [
    "", "<thi", "<think>", "<think>Step one, then", "<think>a</think>", "<think>a</think>\n<generate_rub",
    "<think>a</think>\n<generate_rubrics>", "<think>a</think>\n<generate_rubrics>r</gen",
    "<think>a</think>\n<generate_rubrics>r</generate_rubrics>\n<eval>e is", "<think>a</think>\n<generate_rubrics>"
    "r</generate_rubrics>\n<eval>e</eval>\n<answer>1",
])
def test_every_forced_ending_fits_the_reserve_and_parses(judge: object, longest_answer: str, partial: str,
                                                         counted_by: str, bundled_count: TokenCount) -> None:
    count = utf8_bytes if counted_by == "bytes" else bundled_count
    ending = judge.forced_ending(partial)  # type: ignore[attr-defined]
    assert ending is not None and partial.startswith(ending.kept)
    written, answered = longest_forced_ending(judge, partial, longest_answer)
    assert count(written) + len(answered.encode()) + EOS <= judge.ending_tokens(count)  # type: ignore
    verdict = judge.parse(ending.kept + written + answered)  # type: ignore[attr-defined]
    assert not isinstance(verdict, ParseFailure), (ending.kept + written + answered, verdict)
    grammar = judge.output_regex(judge.minimum_max_tokens())  # type: ignore[attr-defined]
    if partial.startswith("<think>a") or partial == "<think>":
        whole = ending.kept + written + answered
        assert re.fullmatch(grammar, whole), whole  # a grammar prefix ends in the grammar


def test_a_judgment_cut_inside_a_section_keeps_all_it_wrote() -> None:
    partial = "<think>Le premier r\u00e9sum\u00e9 est meilleur car a<b et"
    ending = POINTWISE.forced_ending(partial)
    assert ending is not None and ending.kept == partial
    assert ending.written.startswith("</think>")
    for begun in ("<", "</", "</thi"):  # cut while writing its closing tag: that is rewritten whole
        cut = POINTWISE.forced_ending(partial + " " + begun)
        assert cut is not None and cut.kept == partial + " "


def test_a_judgment_cut_inside_the_answer_writes_the_answer_again() -> None:
    partial = "<think>t</think>\n<generate_rubrics>r</generate_rubrics>\n<eval>e</eval>\n<answer>1"
    ending = POINTWISE.forced_ending(partial)
    assert ending is not None and ending.kept.endswith("</eval>")
    assert ending.written == "\n<answer>"


@pytest.mark.parametrize("partial", [VALID, "<eval>first</eval>", "<think>a</think><think>b", "</think>"])
def test_no_forced_ending_for_a_complete_or_misordered_judgment(partial: str) -> None:
    assert POINTWISE.forced_ending(partial) is None


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


@pytest.mark.parametrize("section_text", [
    "Step 1: a > b; {x} [y] ~`!@#$%^&*()_+-=|\\/?'\",.\n\tdone",
    "\u7b2c\u4e00\u7bc7\u6587\u7ae0\u66f4\u597d\uff0c\u56e0\u4e3a\u5b83\u66f4\u751f\u52a8\u3002",  # Chinese
    "caf\u00e9, na\u00efve, \u2200x \u2208 S: x \u2264 y, emoji \U0001f600",
    "if a < b and b <= c: return [x for x in xs if x<y]",
    "HTML: <div><b>bold and <span> or <p>, and 3 <5",
])
def test_any_text_is_allowed_in_a_section_where_a_less_than_cannot_start_a_tag(section_text: str) -> None:
    regex = POINTWISE.output_regex(512)
    for name in ("think", "rubrics", "evaluation"):
        text = completion(**{name: section_text})  # type: ignore[arg-type]
        assert re.fullmatch(regex, text), (name, section_text)
        assert not isinstance(POINTWISE.parse(text), ParseFailure)


@pytest.mark.parametrize("section_text", ["x</think>", "ok <answer>10</answer>", "<eval>", "a </generate_rubrics>",
                                          "x </p>", "a <table>", "a <<"])
def test_a_section_cannot_open_or_close_a_tag(section_text: str) -> None:
    """Nor anything whose `<` could start one: the price of a grammar vLLM runs at full speed."""
    regex = POINTWISE.output_regex(512)
    for name in ("think", "rubrics", "evaluation"):
        assert re.fullmatch(regex, completion(**{name: section_text})) is None  # type: ignore[arg-type]


def test_free_text_never_admits_a_reserved_tag() -> None:
    """Random strings over tag fragments: no string with a reserved tag in it is admitted, and every string
    without `<` is."""
    free = re.compile(free_text_regex())
    pieces = ["<", "/", ">", "t", "th", "think", "eval", "ev", "answer", "generate_rubrics", "gen", "a", " ", "\u4e2d"]
    rng = random.Random(7)
    for _ in range(3000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 12)))
        if any(tag in text for tag in RESERVED_TAGS):
            assert free.fullmatch(text) is None, text
        if "<" not in text:
            assert free.fullmatch(text), text


@pytest.mark.parametrize("section_text", ["", " ", " text", "\ntext", "\ttext", "\n"])
def test_regex_rejects_blank_or_whitespace_first_section(section_text: str) -> None:
    regex = POINTWISE.output_regex(512)
    for name in ("think", "rubrics", "evaluation"):
        assert re.fullmatch(regex, completion(**{name: section_text})) is None  # type: ignore[arg-type]


def test_regex_requires_the_separator_between_sections() -> None:
    regex = POINTWISE.output_regex(512)
    assert re.fullmatch(regex, completion(sep="\n"))
    assert re.fullmatch(regex, completion(sep="")) is None
    assert re.fullmatch(regex, completion(sep="\n\n")) is None


@pytest.mark.parametrize(("text", "rest"), [
    ("", "<think>n/a</think>\n<generate_rubrics>n/a</generate_rubrics>\n<eval>n/a</eval>\n<answer>"),
    ("<thi", "nk>n/a</think>\n<generate_rubrics>n/a</generate_rubrics>\n<eval>n/a</eval>\n<answer>"),
    ("<think>Step one", "</think>\n<generate_rubrics>n/a</generate_rubrics>\n<eval>n/a</eval>\n<answer>"),
    ("<think>a</think>\n<generate_rubrics>r</generate_rubrics>\n<eval>e</ev", "al>\n<answer>"),
    ("<think>a</think>\n<generate_rubrics>r</generate_rubrics>\n<eval>e</eval>\n<ans", "wer>"),
    ("<think>a</think>\n<generate_rubrics>r</generate_rubrics>\n<eval>e</eval>\n<answer>1", ""),
    ("<think>a</think>\n<generate_rubrics>r</generate_rubrics>\n<eval>e</eval>\n<answer>1</answer>", None),
    ("<eval>first</eval>", None),
])
def test_the_engine_continues_exactly_what_was_cut(text: str, rest: str | None) -> None:
    """The engine cannot take back a token: the ending continues `text` itself (a begun tag is completed), and
    the whole judgment then parses once the judge writes its answer."""
    assert continuation_to_answer(text) == rest
    if rest is not None:
        whole = text + rest + ("7" if rest else "") + "</answer>"
        assert not isinstance(POINTWISE.parse(whole), ParseFailure), whole
