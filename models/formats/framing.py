"""Delimiting untrusted text (prompts and responses under evaluation) inside the judge's prompt.

The judge's prompt is a structure of tags (`<task>`, `<rubrics>`, `<prompt>`, `<response>`, ...) and the judge
answers in tags of its own (`<think>`, `<eval>`, `<answer>`, ...). Untrusted text must not be able to close or
open any of them, nor the chat template's turn markers (`<|im_end|>`, `<|im_start|>assistant`), which the
tokenizer would otherwise read as real special tokens and so let a response forge a judge turn.

`neutralize` rewrites every such marker so that it reads the same to a human or a model but is no longer the
marker: the `<` of a reserved tag becomes `‹` (U+2039) and each special-token string gets a zero-width joiner
after its first character. Everything else passes through untouched, so `a < b` and `lo < answer:` in code stay
as they were.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# Tags that structure the judge's input and output. A tag written with any casing or inner whitespace
# (`< / Answer >`) counts: a model reads those as the tag as well.
RESERVED_TAGS: tuple[str, ...] = (
    "task",
    "rubrics",
    "rubric",
    "prompt",
    "turn",
    "response",
    "response_a",
    "response_b",
    "think",
    "generate_rubrics",
    "eval",
    "answer",
)

# A tag is `<`, optional `/`, a reserved name, then anything but angle brackets up to `>` (attributes such as
# `<turn role="assistant">` included). Without the closing `>` it is not a tag: `while lo < answer:` stays.
_TAG_PATTERN = re.compile(
    r"<(\s*/?\s*(?:" + "|".join(sorted(RESERVED_TAGS, key=len, reverse=True)) + r")\b[^<>]{0,256}>)",
    re.IGNORECASE,
)
_LOOKALIKE_LT = "\u2039"
_ZERO_WIDTH_JOINER = "\u200d"


def neutralize(text: str, special_tokens: Iterable[str]) -> str:
    """Return `text` with reserved tags and the tokenizer's special-token strings defused."""
    for token in sorted(set(special_tokens), key=len, reverse=True):
        if len(token) > 1 and token in text:
            text = text.replace(token, token[0] + _ZERO_WIDTH_JOINER + token[1:])
    return _TAG_PATTERN.sub(_LOOKALIKE_LT + r"\1", text)


def wrap(tag: str, text: str, special_tokens: Iterable[str]) -> str:
    """`<tag>` + neutralized text + `</tag>`, one block of the judge's input."""
    return f"<{tag}>\n{neutralize(text, special_tokens)}\n</{tag}>"
