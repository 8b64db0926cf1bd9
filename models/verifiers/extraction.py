"""Where a response's final answer is, and what counts as one.

The extracted answer is the **last** one the response states, in this order of preference (`auto`): the last
`\\boxed{...}` (braces balanced, `\\fbox` too), else the last "answer is X" / "Answer: X" / "final answer: X", else
nothing. `boxed` and `answer_is` take only that form; `last_line` the last non-blank line; `whole` the whole
response (trimmed). A response that states several *distinct* final answers (two boxed answers that differ, or
"the answer is 3 or 4") is enumerating: `candidates` lists them, and the verifiers call it `ambiguous`, so listing
every plausible answer never wins.
"""

from __future__ import annotations

import re
from typing import Literal

Extraction = Literal["auto", "boxed", "answer_is", "last_line", "whole"]
MAX_ANSWER_CHARS = 2_000
_BOXED = re.compile(r"\\(?:boxed|fbox)\s*\{")
_ANSWER_IS = re.compile(
    r"(?:final\s+answer|answer)\s*(?:is|:|=)\s*:?\s*(.+?)\s*(?:$|\n|(?<=[^\d\s])\.(?:\s|$))", re.IGNORECASE
)
# "3 or 4", "A, B or C": alternatives joined by "or" (a single answer never needs one).
_ALTERNATIVES = re.compile(r"\s+or\s+", re.IGNORECASE)


def boxed_answers(text: str) -> list[str]:
    """Every `\\boxed{...}` content in order, braces balanced; an unclosed one is left out."""
    answers = []
    for match in _BOXED.finditer(text):
        depth, start = 1, match.end()
        for index in range(start, min(len(text), start + MAX_ANSWER_CHARS)):
            depth += {"{": 1, "}": -1}.get(text[index], 0)
            if depth == 0:
                answers.append(text[start:index].strip())
                break
    return answers


def answer_is_answers(text: str) -> list[str]:
    return [match.group(1).strip().strip("$").strip() for match in _ANSWER_IS.finditer(text[-20_000:])]


def _last_line(text: str) -> list[str]:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1:]


def stated_answers(text: str, how: Extraction) -> list[str]:
    """Every final answer the response states in the chosen form (for `auto`, the first form that has any)."""
    if how == "whole":
        return [text.strip()] if text.strip() else []
    if how == "last_line":
        return _last_line(text)
    if how == "boxed":
        return boxed_answers(text)
    if how == "answer_is":
        return answer_is_answers(text)
    return boxed_answers(text) or answer_is_answers(text)


def alternatives(answer: str) -> list[str]:
    """The alternatives an answer offers ("3 or 4" → ["3", "4"]); one element when it offers none."""
    parts = [part.strip() for part in _ALTERNATIVES.split(answer) if part.strip()]
    return parts if len(parts) > 1 else [answer]
