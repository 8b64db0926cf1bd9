"""Finding reserved markup in untrusted text: the judge's tags and the chat template's special tokens, however
they are spelled (see `folding`).

A reserved tag is `<`, an optional `/`, a reserved name and anything but angle brackets up to `>`, with any
casing and inner whitespace (`< / Answer >`, `<turn role="assistant">`). Without its `>` it is not a tag, so
`while lo < answer:` is not markup. A special token (`<|im_end|>`) counts with whitespace between its
characters too. Matching runs on the folded text; each match is reported as the span of the original it covers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from models.integrity.folding import MARKUP_TRIGGERS, FoldedText, fold, fold_char, lookalikes_of

# Tags that structure the judge's input and output.
RESERVED_TAGS: tuple[str, ...] = (
    "task",
    "rubrics",
    "rubric",
    "prompt",
    "turn",
    "response",
    "response_a",
    "response_b",
    "solution",
    "earlier_steps",
    "step",
    "trajectory",
    "history",
    "turn_to_judge",
    "tool_call",
    "think",
    "generate_rubrics",
    "eval",
    "answer",
)
VERDICT_TAGS = frozenset({"answer"})
MarkupKind = Literal["tag", "special_token"]

_TAG = re.compile(
    r"<\s*(/?)\s*(" + "|".join(sorted(RESERVED_TAGS, key=len, reverse=True)) + r")\b[^<>]{0,256}>", re.IGNORECASE
)


@dataclass(frozen=True)
class Markup:
    """One piece of reserved markup: `start:end` in the original text; `name` is the tag name (lower case) or
    the special token it spells; `closing` for `</tag>`."""

    kind: MarkupKind
    start: int
    end: int
    name: str
    closing: bool = False


class MarkupFinder:
    """Finds reserved tags and the given special tokens (a judge model's, from its tokenizer)."""

    def __init__(self, special_tokens: Iterable[str]) -> None:
        tokens = sorted({token for token in special_tokens if len(token) > 1}, key=len, reverse=True)
        self._tokens = {"".join(fold_char(c) for c in token).casefold(): token for token in tokens}
        spelled = [r"\s*".join(re.escape(c) for c in folded) for folded in self._tokens if folded]
        self._special = re.compile("|".join(spelled), re.IGNORECASE) if spelled else None
        # Text without a character that can fold to the first character of a tag (`<`) or of a special token
        # (`<`, `[` of `[INST]`), or `&` of a character reference, holds no markup and is not folded.
        self._triggers = MARKUP_TRIGGERS | {
            spelling for folded in self._tokens if folded and not folded.startswith("<")
            for spelling in _spellings(folded[0])
        }

    def find(self, text: str) -> list[Markup]:
        """Non-overlapping markup in `text`, in order (the leftmost, then longest, match wins)."""
        if self._triggers.isdisjoint(text):
            return []
        folded = fold(text)
        found = [self._tag(folded, match) for match in _TAG.finditer(folded.text)]
        if self._special is not None:
            found += [self._token(folded, match) for match in self._special.finditer(folded.text)]
        return _without_overlaps(found)

    def _tag(self, folded: FoldedText, match: re.Match[str]) -> Markup:
        start, end = folded.original_span(match.start(), match.end())
        return Markup("tag", start, end, match.group(2).lower(), closing=bool(match.group(1)))

    def _token(self, folded: FoldedText, match: re.Match[str]) -> Markup:
        start, end = folded.original_span(match.start(), match.end())
        spelled = re.sub(r"\s+", "", match.group(0)).casefold()
        return Markup("special_token", start, end, self._tokens.get(spelled, spelled))


def _spellings(char: str) -> set[str]:
    """`char`, its fullwidth form and its lookalikes: what folds to it."""
    fullwidth = {chr(ord(char) + 0xFEE0)} if "!" <= char <= "~" else set()
    return {char, char.upper(), *fullwidth, *lookalikes_of(char)}


def _without_overlaps(found: list[Markup]) -> list[Markup]:
    kept: list[Markup] = []
    for markup in sorted(found, key=lambda m: (m.start, -m.end)):
        if not kept or markup.start >= kept[-1].end:
            kept.append(markup)
    return kept
