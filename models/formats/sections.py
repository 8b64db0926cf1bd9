"""The section structure shared by the judge formats: `<think>`, `<generate_rubrics>`, `<eval>`, `<answer>`.

Two halves of one contract:

* `section_regex` builds the grammar the engine is constrained with. Every free-text section is limited to
  printable ASCII without `<`, so the judge cannot open or close a tag inside a section, and each section's
  length is budgeted from `max_tokens` so that `<answer>` always fits. The budget is worst-case: one token per
  character (a byte-level BPE token holds at least one byte and these characters are one byte each).
* `parse_sections` reads a completion strictly: each section exactly once, in order, nothing but whitespace
  between or around them. Anything else is a named `ParseFailure`, never a silent default.
"""

from __future__ import annotations

import enum
import math
import re
from dataclasses import dataclass

FREE_TEXT_SECTIONS: tuple[str, ...] = ("think", "generate_rubrics", "eval")
ANSWER_SECTION = "answer"
ALL_SECTIONS: tuple[str, ...] = (*FREE_TEXT_SECTIONS, ANSWER_SECTION)

# Share of the free-text budget each section gets; the rest of max_tokens is tags and the answer.
SECTION_SHARES: dict[str, float] = {"think": 0.4, "generate_rubrics": 0.25, "eval": 0.35}
MIN_SECTION_CHARS = 8
SECTION_SEPARATOR = "\n"
# Printable ASCII except `<`, plus newline and tab; a section starts with a visible character so it is never blank.
SECTION_FIRST_CHAR_CLASS = r"[!-;=-~]"
SECTION_CHAR_CLASS = r"[\n\t -;=-~]"
END_OF_SEQUENCE_TOKENS = 1


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
class SectionBudget:
    """Characters allowed in each free-text section for a given `max_tokens`."""

    chars: dict[str, int]

    @classmethod
    def for_max_tokens(cls, max_tokens: int, answer_pattern_chars: int) -> SectionBudget:
        free = max_tokens - fixed_overhead_tokens(answer_pattern_chars)
        minimum = minimum_free_chars()
        if free < minimum:
            raise ValueError(
                f"max_tokens={max_tokens} leaves {free} tokens for the judge's reasoning; the format needs at "
                f"least {minimum}. Raise max_tokens to {minimum_max_tokens(answer_pattern_chars)} or more."
            )
        return cls({name: int(free * SECTION_SHARES[name]) for name in FREE_TEXT_SECTIONS})


def fixed_overhead_tokens(answer_pattern_chars: int) -> int:
    """Worst-case tokens for everything but the free text: tags, separators, the answer and end-of-sequence."""
    tags = sum(len(f"<{name}></{name}>") for name in ALL_SECTIONS)
    separators = len(SECTION_SEPARATOR) * (len(ALL_SECTIONS) - 1)
    return tags + separators + answer_pattern_chars + END_OF_SEQUENCE_TOKENS


def minimum_free_chars() -> int:
    """The smallest free-text budget that still gives every section `MIN_SECTION_CHARS`."""
    return max(math.ceil(MIN_SECTION_CHARS / share) for share in SECTION_SHARES.values())


def minimum_max_tokens(answer_pattern_chars: int) -> int:
    return fixed_overhead_tokens(answer_pattern_chars) + minimum_free_chars()


def section_regex(budget: SectionBudget, answer_regex: str) -> str:
    """The full-completion regex: three bounded free-text sections, then the answer."""
    parts = [
        f"<{name}>{SECTION_FIRST_CHAR_CLASS}{SECTION_CHAR_CLASS}{{0,{budget.chars[name] - 1}}}</{name}>"
        for name in FREE_TEXT_SECTIONS
    ]
    parts.append(f"<{ANSWER_SECTION}>{answer_regex}</{ANSWER_SECTION}>")
    return SECTION_SEPARATOR.encode("unicode_escape").decode().join(parts)


@dataclass(frozen=True)
class SectionedFormat:
    """What the pointwise and pairwise formats share: the section grammar around a format-specific answer."""

    name: str
    answer_regex: str
    answer_max_chars: int

    def minimum_max_tokens(self) -> int:
        return minimum_max_tokens(self.answer_max_chars)

    def output_regex(self, max_tokens: int) -> str:
        return section_regex(SectionBudget.for_max_tokens(max_tokens, self.answer_max_chars), self.answer_regex)


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
