"""The section structure shared by the judge formats: `<think>`, `<generate_rubrics>`, `<eval>`, `<answer>`.

Two halves of one contract:

* The grammar the engine is constrained with, in two steps (budget forcing). `section_regex` lets the judge
  reason freely: any Unicode, any length, `<` included where it cannot start one of the judge's own tags
  (`<think>`, `</eval>`, ...): the structure cannot be forged or broken from inside a section. The judge
  may write until `max_tokens - ending_tokens()`. A judgment that stops there (finish reason `length`) gets a
  short continuation, constrained by `forced_ending`: close the open section, write each missing section in a
  few characters, then `<answer>`. `ending_tokens` is a true upper bound on that continuation (at most one token
  per UTF-8 byte, for byte-level and byte-fallback tokenizers alike), so the verdict always fits the budget.
* `parse_sections` reads a completion strictly: each section exactly once, in order, nothing but whitespace
  between or around them. Anything else is a named `ParseFailure`, never a silent default.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from functools import cache

FREE_TEXT_SECTIONS: tuple[str, ...] = ("think", "generate_rubrics", "eval")
ANSWER_SECTION = "answer"
ALL_SECTIONS: tuple[str, ...] = (*FREE_TEXT_SECTIONS, ANSWER_SECTION)
SECTION_SEPARATOR = "\n"
# A section starts with a visible character (never blank), and that character is not `<`.
SECTION_FIRST_CHAR_CLASS = r"[^< \t\n\r]"
# A section the forced ending has to write from nothing: a few visible ASCII characters ("n/a", "ok.").
FORCED_SECTION_CLASS = r"[!-;=-~]"
FORCED_SECTION_CHARS = 4
# The least reasoning a budget must leave, beyond the forced ending's reserve.
MIN_REASONING_TOKENS = 16
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
class ForcedEnding:
    """How to finish a judgment cut off by its budget: keep `kept` (the text up to a clean point), then let the
    judge write a continuation that matches `regex`. `kept + continuation` parses."""

    kept: str
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


def ending_tokens(answer_pattern_chars: int) -> int:
    """An upper bound on the forced ending from its worst state (no section written yet): every tag and
    separator, a minimal text per section, the answer, end of sequence. All ASCII: one byte, one token at most."""
    tags = sum(len(f"<{name}></{name}>") for name in ALL_SECTIONS)
    separators = len(SECTION_SEPARATOR) * (len(ALL_SECTIONS) - 1)
    minimal_sections = FORCED_SECTION_CHARS * len(FREE_TEXT_SECTIONS)
    return tags + separators + minimal_sections + answer_pattern_chars + END_OF_SEQUENCE_TOKENS


def minimum_max_tokens(answer_pattern_chars: int) -> int:
    return ending_tokens(answer_pattern_chars) + MIN_REASONING_TOKENS


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
    if inside:
        open_section = FREE_TEXT_SECTIONS.index(seen[-1][1])
        closing = f"</{FREE_TEXT_SECTIONS[open_section]}>"
        kept = _without_partial_tag(partial, closing)
        # Cut right after the opening tag: the section still needs its first characters.
        started = kept[tags[-1].end():] != ""
        rest = ("" if started else _MINIMAL_TEXT) + closing + _minimal_sections(open_section + 1, answer_regex, True)
        return ForcedEnding(kept, rest)
    done = len(tags) // 2
    kept = partial[: tags[-1].end()] if tags else ""
    return ForcedEnding(kept, _minimal_sections(done, answer_regex, bool(tags)))


def _without_partial_tag(partial: str, closing_tag: str) -> str:
    """`partial` less a closing tag it had begun to write when it was cut (`<`, `</ev`), so that the whole
    judgment, forced ending included, is still in the grammar."""
    start = partial.rfind("<")
    if start >= 0 and closing_tag.startswith(partial[start:]):
        return partial[:start]
    return partial


_MINIMAL_TEXT = f"{FORCED_SECTION_CLASS}{{1,{FORCED_SECTION_CHARS}}}"


def _minimal_sections(first: int, answer_regex: str, after_a_section: bool) -> str:
    parts = [f"<{name}>{_MINIMAL_TEXT}</{name}>" for name in FREE_TEXT_SECTIONS[first:]]
    parts.append(f"<{ANSWER_SECTION}>{answer_regex}</{ANSWER_SECTION}>")
    return (_separator_regex() if after_a_section else "") + _separator_regex().join(parts)


@dataclass(frozen=True)
class SectionedFormat:
    """What the pointwise and pairwise formats share: the section grammar around a format-specific answer."""

    name: str
    answer_regex: str
    answer_max_chars: int

    def minimum_max_tokens(self) -> int:
        return minimum_max_tokens(self.answer_max_chars)

    def ending_tokens(self) -> int:
        """Tokens held back from the judge's reasoning for a forced ending."""
        return ending_tokens(self.answer_max_chars)

    def reasoning_tokens(self, max_tokens: int) -> int:
        """What the judge may write freely within `max_tokens`, the forced ending's reserve kept back."""
        minimum = self.minimum_max_tokens()
        if max_tokens < minimum:
            raise ValueError(
                f"max_tokens={max_tokens} leaves {max_tokens - self.ending_tokens()} tokens for the judge's "
                f"reasoning; the format needs at least {MIN_REASONING_TOKENS}. Raise max_tokens to {minimum} or "
                "more."
            )
        return max_tokens - self.ending_tokens()

    def output_regex(self, max_tokens: int) -> str:
        """The grammar of a whole judgment within `max_tokens` (checked: the forced ending must fit)."""
        self.reasoning_tokens(max_tokens)
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
