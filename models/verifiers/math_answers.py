"""`math`: the response's final answer against the reference, equivalent by `math-verify` (LaTeX and plain
expressions, fractions, intervals, sets, percentages and units where it supports them).

Only the one extracted answer is handed to `math-verify`, never the whole response: its own extraction matches
any candidate it finds, which would reward a response that lists several. Its time limits are signal alarms that
work only in a main thread, so they are off here: the verifier pool enforces the item's limit itself.
"""

from __future__ import annotations

import logging
from functools import lru_cache

from math_verify import parse, verify

from models.verifiers.extraction import Extraction, alternatives, boxed_answers, stated_answers
from models.verifiers.results import Verification

logging.getLogger("math_verify").setLevel(logging.ERROR)  # it warns on every call that its timeouts are off


def _plain(answer: str) -> str:
    return answer.strip().rstrip(".").strip().strip("$").strip()


@lru_cache(maxsize=4096)
def _parsed(answer: str) -> tuple[object, ...]:
    return tuple(parse(f"${answer}$", parsing_timeout=None))


def equivalent(first: str, second: str) -> bool:
    if _plain(first) == _plain(second):
        return True
    parsed_first, parsed_second = _parsed(_plain(first)), _parsed(_plain(second))
    if not parsed_first or not parsed_second:
        return False
    return bool(verify(list(parsed_first), list(parsed_second), timeout_seconds=None))


def reference_answer(reference: str) -> str:
    """A reference may itself be written `\\boxed{...}`: its last boxed content, else the whole text."""
    boxed = boxed_answers(reference)
    return boxed[-1] if boxed else _plain(reference)


def distinct(answers: list[str]) -> list[str]:
    """The answers with equivalent ones folded together, in order."""
    kept: list[str] = []
    for answer in answers:
        if not any(equivalent(answer, seen) for seen in kept):
            kept.append(answer)
    return kept


def verify_math(response: str, reference: str, extraction: Extraction) -> Verification:
    stated = stated_answers(response, extraction)
    if not stated:
        return Verification("no_answer", detail="no final answer found (write it as \\boxed{...} or "
                            "'The answer is ...')")
    answer = _plain(stated[-1])
    offered = [_plain(option) for option in alternatives(answer)]
    boxed = [_plain(text) for text in boxed_answers(response)] if extraction in ("auto", "boxed") else []
    candidates = distinct([*boxed[:-1], *offered][:16])
    if len(candidates) > 1:
        return Verification("ambiguous", answer, f"{len(candidates)} distinct final answers: only one may be "
                            "given", tuple(candidates))
    gold = reference_answer(reference)
    if equivalent(gold, answer):
        return Verification("correct", answer, f"equivalent to {gold!r}", (answer,))
    return Verification("incorrect", answer, f"not equivalent to {gold!r}", (answer,))
