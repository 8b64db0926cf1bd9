"""The section structure shared by the judge formats: `<think>`, `<generate_rubrics>`, `<eval>`, `<answer>`.

Two halves of one contract:

* The grammar the engine is constrained with, in two steps (budget forcing). `section_regex` lets the judge
  reason freely: any Unicode, any length, `<` included where it cannot start one of the judge's own tags
  (`<think>`, `</eval>`, ...): the structure cannot be forged or broken from inside a section. The judge
  may write until `max_tokens - ending_tokens(count)`. A judgment that stops there (finish reason `length`) gets
  a short ending from `forced_ending`: the service writes the open section's closing tag, each missing section
  as `n/a` and `<answer>`, and the judge then writes only its answer and `</answer>`, constrained by a regex.
  `ending_tokens(count)` is a true upper bound on that ending: the written part's tokens under the judge's own
  tokenizer (`count`; the longest of every state a cut can leave), plus the answer at one token per byte. With
  no tokenizer at hand `count` is the UTF-8 length, a bound for byte-level and byte-fallback tokenizers alike.
  So the verdict always fits the budget.
* `parse_sections` reads a completion strictly: each section exactly once, in order, nothing but whitespace
  between or around them. Anything else is a named `ParseFailure`, never a silent default.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

FREE_TEXT_SECTIONS: tuple[str, ...] = ("think", "generate_rubrics", "eval")
ANSWER_SECTION = "answer"
ALL_SECTIONS: tuple[str, ...] = (*FREE_TEXT_SECTIONS, ANSWER_SECTION)
SECTION_SEPARATOR = "\n"
# A section starts with a visible character (never blank), and that character is not `<`.
SECTION_FIRST_CHAR_CLASS = r"[^< \t\n\r]"
# What a forced ending writes in a section the judge never reached, or opened and wrote nothing in.
PLACEHOLDER = "n/a"
# The least reasoning a budget must leave, beyond the forced ending's reserve.
MIN_REASONING_TOKENS = 16
END_OF_SEQUENCE_TOKENS = 1
TokenCount = Callable[[str], int]  # how many tokens a text is, as the judge's tokenizer encodes it


def utf8_bytes(text: str) -> int:
    """A token count that bounds every byte-level or byte-fallback tokenizer's: one token per byte."""
    return len(text.encode())


class FormatFailure(enum.StrEnum):
    """Why a completion is not a verdict. The PAR format reward maps these to its penalties."""

    MISSING_TAGS = "missing_tags"
    MISORDERED_TAGS = "misordered_tags"
    INVALID_ANSWER = "invalid_answer"


@dataclass(frozen=True)
class ParseFailure:
    category: FormatFailure
    detail: str


@dataclass(frozen=True)
class ForcedEnding:
    """How to finish a judgment cut off by its budget: keep `kept` (the text up to a clean point), append
    `written` (closing tags, placeholder sections, `<answer>`), then let the judge write a continuation that
    matches `regex` (its answer and `</answer>`). `kept + written + continuation` parses."""

    kept: str
    written: str
    regex: str


def _reserved_words() -> list[str]:
    """What may never follow a `<` inside a section: the rest of each of the judge's tags."""
    return [f"{slash}{name}>" for name in ALL_SECTIONS for slash in ("", "/")]


@cache
def free_text_regex() -> str:
    """Any text without a reserved tag in it, as a regex vLLM's grammar engines run fast (they have no
    lookahead, and each character of lookahead-by-hand multiplies the cost of the per-token mask: a full trie of
    the tags measured 3-4x slower decoding on CPU). A `<` is followed by a character that cannot start one of the
    tags' names or a closing tag. So `a < b`, `x<=y`, `<div>`, `<b>` and Unicode pass; `</p>`, `<table>`, `<<` and a
    `<` before t, g, e or a do not (the judge writes `&lt;` or a space there)."""
    starts = {word[0] for word in _reserved_words()}
    return f"(?:[^<]|<{_class_excluding('<' + ''.join(starts))})*"


def _class_excluding(chars: str) -> str:
    return "[^" + "".join(re.escape(char) for char in sorted(set(chars))) + "]"


def section_regex(answer_regex: str) -> str:
    """The full-completion regex: three free-text sections of any length, then the answer."""
    parts = [f"<{name}>{SECTION_FIRST_CHAR_CLASS}{free_text_regex()}</{name}>" for name in FREE_TEXT_SECTIONS]
    parts.append(f"<{ANSWER_SECTION}>{answer_regex}</{ANSWER_SECTION}>")
    return _separator_regex().join(parts)


def _separator_regex() -> str:
    return SECTION_SEPARATOR.encode("unicode_escape").decode()


def answer_tokens(answer_pattern_chars: int) -> int:
    """An upper bound on what the judge writes of a forced ending: its answer, `</answer>`, end of sequence. All
    ASCII: one byte, one token at most, under any tokenizer."""
    return answer_pattern_chars + len(f"</{ANSWER_SECTION}>") + END_OF_SEQUENCE_TOKENS


@cache
def every_written_ending() -> tuple[str, ...]:
    """Every text a forced ending can write, over every state a cut can leave: after the k-th section (or before
    the first), or inside a free section with or without text in it."""
    after = [_minimal_sections(first, first > 0) for first in range(len(FREE_TEXT_SECTIONS) + 1)]
    inside = [("" if started else PLACEHOLDER) + f"</{name}>" + _minimal_sections(index + 1, True)
              for index, name in enumerate(FREE_TEXT_SECTIONS) for started in (True, False)]
    return tuple(after + inside)


def ending_tokens(answer_pattern_chars: int, count: TokenCount = utf8_bytes) -> int:
    """An upper bound on a forced ending's tokens from any state: the longest written part under `count`, then
    the judge's answer."""
    return max(count(text) for text in every_written_ending()) + answer_tokens(answer_pattern_chars)


def minimum_max_tokens(answer_pattern_chars: int, count: TokenCount = utf8_bytes) -> int:
    return ending_tokens(answer_pattern_chars, count) + MIN_REASONING_TOKENS


def forced_ending(partial: str, answer_regex: str) -> ForcedEnding | None:
    """The ending of a completion that stopped early, from where it stopped; None when it cannot be finished
    (its tags so far are out of order, or it is already complete)."""
    tags = list(_TAG.finditer(partial))
    seen = [(m.group(1) == "/", m.group(2)) for m in tags]
    expected = [(closing, name) for name in ALL_SECTIONS for closing in (False, True)]
    if seen != expected[: len(seen)] or len(seen) == len(expected):
        return None
    inside = len(seen) % 2 == 1
    if inside and seen[-1][1] == ANSWER_SECTION:  # cut inside the answer: write the answer again
        tags, inside = tags[:-1], False
    answer = f"{answer_regex}</{ANSWER_SECTION}>"
    if inside:
        open_section = FREE_TEXT_SECTIONS.index(seen[-1][1])
        closing = f"</{FREE_TEXT_SECTIONS[open_section]}>"
        kept = _without_partial_tag(partial, closing)
        # Cut right after the opening tag (or on blanks only): the section still needs its first characters.
        started = kept[tags[-1].end():].strip() != ""
        if not started:
            kept = kept[: tags[-1].end()]
        written = ("" if started else PLACEHOLDER) + closing + _minimal_sections(open_section + 1, True)
        return ForcedEnding(kept, written, answer)
    done = len(tags) // 2
    kept = partial[: tags[-1].end()] if tags else ""
    return ForcedEnding(kept, _minimal_sections(done, bool(tags)), answer)


def continuation_to_answer(text: str) -> str | None:
    """What to append to `text`, a judgment cut off by its budget, so that it ends in `<answer>`: the forced
    ending's written part, as a continuation of exactly `text` (an engine cannot take back what it generated,
    so a closing tag it had begun is completed, not rewritten). `""` when `text` is already inside its answer
    (the grammar finishes it); None when it cannot be finished (misordered, or already complete)."""
    ending = forced_ending(text, "")
    if ending is None:
        return None
    target = ending.kept + ending.written
    if target.startswith(text):
        return target[len(text):]
    if text.startswith(target) and _TAG.search(text, len(target)) is None:
        return ""  # cut inside the answer: the answer's grammar holds the rest
    return None


def _without_partial_tag(partial: str, closing_tag: str) -> str:
    """`partial` less a closing tag it had begun to write when it was cut (`<`, `</ev`), so that the whole
    judgment, forced ending included, is still in the grammar."""
    start = partial.rfind("<")
    if start >= 0 and closing_tag.startswith(partial[start:]):
        return partial[:start]
    return partial


def _minimal_sections(first: int, after_a_section: bool) -> str:
    """The sections from `first` on, each as the placeholder, then the answer's opening tag."""
    parts = [f"<{name}>{PLACEHOLDER}</{name}>" for name in FREE_TEXT_SECTIONS[first:]]
    parts.append(f"<{ANSWER_SECTION}>")
    return (SECTION_SEPARATOR if after_a_section else "") + SECTION_SEPARATOR.join(parts)


@dataclass(frozen=True)
class SectionedFormat:
    """What the pointwise and pairwise formats share: the section grammar around a format-specific answer."""

    name: str
    answer_regex: str
    answer_max_chars: int
    # The verdicts a probability reading weighs, and what each is worth (models/formats/verdict_probability.py);
    # empty: the format has no probability verdict.
    verdict_values: tuple[tuple[str, float], ...] = ()

    def direct_prefill(self) -> str:
        """What a verdict without reasoning puts in the judge's mouth: every section a placeholder, then the
        answer's opening tag (a forced ending at the very start)."""
        return _minimal_sections(0, after_a_section=False)

    def minimum_max_tokens(self, count: TokenCount = utf8_bytes) -> int:
        return minimum_max_tokens(self.answer_max_chars, count)

    def ending_tokens(self, count: TokenCount = utf8_bytes) -> int:
        """Tokens held back from the judge's reasoning for a forced ending, with texts counted by `count`."""
        return ending_tokens(self.answer_max_chars, count)

    def answer_tokens(self) -> int:
        """The most a forced ending asks the judge to write (its answer and `</answer>`)."""
        return answer_tokens(self.answer_max_chars)

    def reasoning_tokens(self, max_tokens: int, count: TokenCount = utf8_bytes) -> int:
        """What the judge may write freely within `max_tokens`, the forced ending's reserve kept back."""
        minimum = self.minimum_max_tokens(count)
        reserve = self.ending_tokens(count)
        if max_tokens < minimum:
            raise ValueError(
                f"max_tokens={max_tokens} leaves {max_tokens - reserve} tokens for the judge's "
                f"reasoning; the format needs at least {MIN_REASONING_TOKENS}. Raise max_tokens to {minimum} or "
                "more."
            )
        return max_tokens - reserve

    def output_regex(self, max_tokens: int, count: TokenCount = utf8_bytes) -> str:
        """The grammar of a whole judgment within `max_tokens` (checked: the forced ending must fit)."""
        self.reasoning_tokens(max_tokens, count)
        return section_regex(self.answer_regex)

    def forced_ending(self, partial: str) -> ForcedEnding | None:
        return forced_ending(partial, self.answer_regex)


_TAG = re.compile(r"<(/?)(" + "|".join(ALL_SECTIONS) + r")>")


def parse_sections(completion: str) -> dict[str, str] | ParseFailure:
    """Split a completion into its four sections, or say which rule it breaks."""
    tags = [(m.group(1) == "/", m.group(2), m.start(), m.end()) for m in _TAG.finditer(completion)]
    present = {(closing, name) for closing, name, _, _ in tags}
    missing = [
        f"{'</' if closing else '<'}{name}>"
        for name in ALL_SECTIONS
        for closing in (False, True)
        if (closing, name) not in present
    ]
    if missing:
        return ParseFailure(FormatFailure.MISSING_TAGS, "missing " + ", ".join(missing))
    expected = [(closing, name) for name in ALL_SECTIONS for closing in (False, True)]
    if [(closing, name) for closing, name, _, _ in tags] != expected:
        order = " ".join(f"{'</' if c else '<'}{n}>" for c, n, _, _ in tags)
        return ParseFailure(FormatFailure.MISORDERED_TAGS, f"tags appear as: {order}")
    return _sections_between(completion, tags)


def _sections_between(
    completion: str, tags: list[tuple[bool, str, int, int]]
) -> dict[str, str] | ParseFailure:
    sections: dict[str, str] = {}
    cursor = 0
    for (_, name, open_start, open_end), (_, _, close_start, close_end) in zip(tags[::2], tags[1::2], strict=True):
        if completion[cursor:open_start].strip():
            return ParseFailure(FormatFailure.MISORDERED_TAGS, f"text outside the sections before <{name}>")
        sections[name] = completion[open_end:close_start].strip()
        cursor = close_end
    if completion[cursor:].strip():
        return ParseFailure(FormatFailure.MISORDERED_TAGS, "text after </answer>")
    return sections


def answer_prefix(completion: str) -> str:
    """A parsed judgment up to and including its answer's opening tag: where its verdict is read."""
    opening = f"<{ANSWER_SECTION}>"
    return completion[: completion.rindex(opening) + len(opening)]


def answer_closing() -> str:
    return f"</{ANSWER_SECTION}>"
