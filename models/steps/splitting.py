"""Cutting a solution into steps, each with its character span in the submitted text.

Rules (`SplitRule`):

- `blank_lines`: paragraphs, separated by one or more blank lines (the default: most chain-of-thought data);
- `numbered`: a step starts at each line that begins with `Step k` (any case, `:` `.` `)` or a space after it) or
  with `k.` / `k)`; text before the first such line is a step of its own only if it is not blank;
- `lines`: each non-blank line;
- `regex`: the caller's pattern separates steps (multiline; the matches are dropped). It runs on the `regex`
  engine with a time limit, so a pattern that backtracks catastrophically is refused instead of holding the
  gateway's event loop;
- `list`: the caller sends the steps; each must occur in the solution, in order, and is found there.

A step's span is `solution[start:end]` with the surrounding whitespace trimmed, so a trainer can place the step's
reward on the tokens of exactly that text. A split that yields no step is an error naming the rule, never an
empty answer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, get_args

import regex

from genrm_wire.steps import MAX_STEPS, SplitRule

SPLIT_RULES: tuple[str, ...] = get_args(SplitRule)
MAX_PATTERN_CHARS = 200
PATTERN_TIMEOUT_S = 1.0

_BLANK_LINES = re.compile(r"\n[ \t]*\n\s*")
_NUMBERED_START = re.compile(r"^[ \t]*(?:step[ \t]*\d+[ \t]*[:.)]?|\d+[.)])(?=[ \t]|$)", re.IGNORECASE | re.MULTILINE)
_LINE = re.compile(r"\n")


@dataclass(frozen=True)
class Step:
    index: int
    start: int
    end: int
    text: str


class Match(Protocol):
    def start(self) -> int: ...

    def end(self) -> int: ...


class SplitError(ValueError):
    """Why a solution could not be cut as asked; `field` is the request field to fix."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class TooManySteps(SplitError):
    """The rule found more than `MAX_STEPS` steps."""


def split_solution(solution: str, rule: SplitRule, *, pattern: str | None = None,
                   steps: Sequence[str] | None = None) -> list[Step]:
    """The solution's steps under `rule`, in order, each with its trimmed span; raises `SplitError`."""
    if rule == "list":
        found = _located(solution, steps)
    elif rule == "regex":
        found = _between_callers(solution, _compiled(pattern))
    elif rule == "numbered":
        found = _numbered(solution)
    else:
        found = _between(solution, _BLANK_LINES if rule == "blank_lines" else _LINE)
    if not found:
        raise SplitError("split", f"splitting by {rule!r} found no step in the solution; send non-blank text, or "
                                  "another split (blank_lines, numbered, lines, regex, list)")
    if len(found) > MAX_STEPS:
        raise TooManySteps("split", f"splitting by {rule!r} found {len(found)} steps, over the limit of {MAX_STEPS}; "
                                  "split more coarsely or send fewer steps")
    return [Step(index, start, end, solution[start:end]) for index, (start, end) in enumerate(found)]


def _trimmed(text: str, start: int, end: int) -> tuple[int, int] | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if start < end else None


def _between_callers(text: str, separator: regex.Pattern[str]) -> list[tuple[int, int]]:
    """`_between` for the caller's own pattern, within `PATTERN_TIMEOUT_S`."""
    try:
        return _between(text, list(separator.finditer(text, timeout=PATTERN_TIMEOUT_S)))
    except TimeoutError:
        raise SplitError("pattern", f"the pattern took over {PATTERN_TIMEOUT_S:g} s on the text (it backtracks "
                                    "catastrophically); use a simpler separator, for example '\\n(?=Step)'") from None


def _between(text: str, separator: re.Pattern[str] | Sequence[Match]) -> list[tuple[int, int]]:
    spans, position = [], 0
    for match in (separator.finditer(text) if isinstance(separator, re.Pattern) else separator):
        if match.end() == match.start():
            continue  # an empty match separates nothing
        spans.append(_trimmed(text, position, match.start()))
        position = match.end()
    spans.append(_trimmed(text, position, len(text)))
    return [span for span in spans if span is not None]


def _numbered(text: str) -> list[tuple[int, int]]:
    starts = [match.start() for match in _NUMBERED_START.finditer(text)]
    if not starts:
        raise SplitError("split", "no line starts with 'Step k' or 'k.' / 'k)': split by 'numbered' needs "
                                  "numbered steps; use blank_lines, lines or regex for this solution")
    bounds = ([0] if starts[0] > 0 else []) + starts + [len(text)]
    spans = (_trimmed(text, start, end) for start, end in zip(bounds, bounds[1:], strict=False))
    return [span for span in spans if span is not None]


def _compiled(pattern: str | None) -> regex.Pattern[str]:
    if not pattern:
        raise SplitError("pattern", "split 'regex' needs `pattern`: a regular expression that separates steps, "
                                    r"for example '\n(?=Step)'")
    if len(pattern) > MAX_PATTERN_CHARS:
        raise SplitError("pattern", f"the pattern is {len(pattern)} characters, over {MAX_PATTERN_CHARS}")
    try:
        return regex.compile(pattern, regex.MULTILINE | regex.VERSION0)
    except regex.error as error:
        raise SplitError("pattern", f"the pattern is not a valid regular expression: {error}") from None


def _located(solution: str, steps: Sequence[str] | None) -> list[tuple[int, int]]:
    if not steps:
        raise SplitError("steps", "split 'list' needs `steps`: the solution's steps, in order, each copied from it")
    spans, position = [], 0
    for index, step in enumerate(steps):
        wanted = step.strip()
        found = solution.find(wanted, position) if wanted else -1
        if found < 0:
            raise SplitError(f"steps.{index}", f"step {index} is {'blank' if not wanted else 'not in the solution'}"
                             f"{'' if not wanted else ' after the step before it'}; each step must be non-blank "
                             "text copied from the solution, in order")
        spans.append((found, found + len(wanted)))
        position = found + len(wanted)
    return spans
