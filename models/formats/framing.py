"""Delimiting untrusted text (prompts, responses and inline rubrics) inside the judge's prompt.

The judge's prompt is a structure of tags (`<task>`, `<rubrics>`, `<prompt>`, `<response>`, ...) and the judge
answers in tags of its own (`<think>`, `<eval>`, `<answer>`, ...). Untrusted text must not be able to close or
open any of them, nor write the chat template's turn markers (`<|im_end|>`, `<|im_start|>assistant`), which the
tokenizer would read as real special tokens and so let a response forge a judge turn.

`Framing.neutralize` finds reserved markup however it is spelled (zero-width characters inside, fullwidth or
lookalike brackets, HTML character references: see `models.integrity.folding`) and shows each piece to the
judge in its `Display`:

- `strip` (default): the markup removed. It steered the bundled judge least (docs/integrity.md);
- `bracketed`: the markup in square brackets, `[answer]` / `[/answer]` / `[|im_end|]`: still readable (an XML
  tutorial keeps its meaning) and not a tag, but the judge read `[answer]10[/answer]` as a verdict more often;
- `lookalike`: the framing before folding existed (`‹answer>`, a zero-width joiner inside special tokens), kept
  only so the steering benchmark can measure against it; it reads as a tag to a model, by design.

Text without reserved markup passes through byte for byte (`a < b`, `vector<int>`, any language). The result
holds no reserved markup even when folded again: a rewrite that joins its neighbours into new markup
(`<ans<answer>wer>` stripped) is rewritten in turn.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from enum import StrEnum

from models.integrity.markup import RESERVED_TAGS, Markup, MarkupFinder

__all__ = ["RESERVED_TAGS", "Display", "Framing"]

_LOOKALIKE_LT = "\u2039"
_ZERO_WIDTH_JOINER = "\u200d"
# Stripping can join neighbours into new markup, so it repeats; past this many passes (nesting no real text
# has) the rest is bracketed, which never joins anything, so one more pass ends it.
_MAX_STRIP_PASSES = 16
_TAG = re.compile(
    r"<(\s*/?\s*(?:" + "|".join(sorted(RESERVED_TAGS, key=len, reverse=True)) + r")\b[^<>]{0,256}>)", re.IGNORECASE
)


class Display(StrEnum):
    BRACKETED = "bracketed"
    STRIP = "strip"
    LOOKALIKE = "lookalike"


class Framing:
    """How one judge model's prompt quotes untrusted text: its special tokens and the display of defused markup."""

    def __init__(self, special_tokens: Iterable[str], display: Display = Display.STRIP) -> None:
        self.special_tokens = tuple(special_tokens)
        self.display = display
        self._finder = MarkupFinder(self.special_tokens)

    def neutralize(self, text: str) -> str:
        """`text` with every piece of reserved markup rewritten in this framing's display."""
        if self.display is Display.LOOKALIKE:
            return _lookalike(text, self.special_tokens)
        display = self.display
        for passes in range(1, _MAX_STRIP_PASSES + 2):
            found = self._finder.find(text)
            if not found:
                return text
            if passes > _MAX_STRIP_PASSES:
                display = Display.BRACKETED
            text = _rewrite(text, found, display)
        return text

    def wrap(self, tag: str, text: str) -> str:
        """`<tag>` + neutralized text + `</tag>`, one block of the judge's input."""
        return f"<{tag}>\n{self.neutralize(text)}\n</{tag}>"


def _rewrite(text: str, found: list[Markup], display: Display) -> str:
    pieces, position = [], 0
    for markup in found:
        pieces += [text[position:markup.start], _shown(markup, display)]
        position = markup.end
    pieces.append(text[position:])
    return "".join(pieces)


def _shown(markup: Markup, display: Display) -> str:
    if display is Display.STRIP:
        return ""
    if markup.kind == "special_token":
        return "[" + markup.name.strip("<>") + "]"
    return f"[{'/' if markup.closing else ''}{markup.name}]"


def _lookalike(text: str, special_tokens: Iterable[str]) -> str:
    """The framing before folding: exact special-token strings get a zero-width joiner, and the `<` of an ASCII
    reserved tag becomes `‹`."""
    for token in sorted(set(special_tokens), key=len, reverse=True):
        if len(token) > 1 and token in text:
            text = text.replace(token, token[0] + _ZERO_WIDTH_JOINER + token[1:])
    return _TAG.sub(_LOOKALIKE_LT + r"\1", text)
