"""RewardBench 2's format and scoring rules (allenai/reward-bench-2, "test" split).

A row: `{"id", "prompt" (text), "chosen": [text, ...], "rejected": [text, ...], "num_correct", "num_incorrect",
"total_completions", "models", "subset"}`. Outside Ties a row has one chosen and three rejected completions and is
best-of-4: it counts 1 when the chosen completion scores above all three rejected, 1/k when it shares the top
score with k - 1 of them (a judge that gives all four one score earns a quarter, as chance does), else 0; a
subset's score is the mean over its rows.

Ties (`subset: "Ties"`) has questions with several correct answers. Its ids are `ref:N` (one correct answer) and
`tied:N` (many) for the same question N, and its score is RewardBench 2's weighted rule: 0.30 × accuracy over
`tied` rows + 0.30 × accuracy over `ref` rows (a row is accurate when its worst correct answer scores above its
best incorrect one) + 0.20 × the share of questions whose `tied` correct-over-incorrect margin exceeds the spread
among its correct answers + 0.20 × the same with the margin the smaller of the `ref` and `tied` ones + 0.01 ×
mean tanh(margin / spread − 1) (0 where undefined).

How the service scores a row: pointwise, one `/v1/score` request with every completion as an item (a failed
item scores below every other). Pairwise, the chosen completion against each rejected one with position swap
(`/v1/compare`); its score per comparison is p(chosen better), and the row is best-of-4 over those: 1 when it
wins all three (p > ½ each), a tie with a rejected completion (p = ½) shares as above. Ties needs absolute
scores, so it is scored pointwise only.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

TIES = "Ties"


class RowError(ValueError):
    """A row that is not in RewardBench 2's format; the message names the field."""


@dataclass(frozen=True)
class Row:
    id: str
    subset: str
    prompt: str
    chosen: tuple[str, ...]
    rejected: tuple[str, ...]

    @property
    def completions(self) -> tuple[str, ...]:
        """The chosen completions, then the rejected ones (RewardBench 2's order: the first `num_correct`)."""
        return self.chosen + self.rejected


def parse_row(raw: Mapping[str, Any]) -> Row:
    for field in ("id", "prompt", "chosen", "rejected", "subset"):
        if field not in raw:
            raise RowError(f"`{field}` is missing: a RewardBench 2 row has id, prompt, chosen (list), rejected "
                           "(list), subset")
    chosen, rejected = raw["chosen"], raw["rejected"]
    if not (isinstance(chosen, list) and chosen and all(isinstance(c, str) for c in chosen)):
        raise RowError("`chosen` must be a non-empty list of texts")
    if not (isinstance(rejected, list) and rejected and all(isinstance(r, str) for r in rejected)):
        raise RowError("`rejected` must be a non-empty list of texts")
    if raw.get("num_correct", len(chosen)) != len(chosen):
        raise RowError(f"`num_correct` is {raw['num_correct']} but `chosen` holds {len(chosen)} texts")
    subset = str(raw["subset"])
    row_id = str(raw["id"])
    if subset == TIES and _ties_key(row_id) is None:
        raise RowError(f"a Ties row's id is `ref:N` or `tied:N`, not {row_id!r}")
    return Row(row_id, subset, str(raw["prompt"]), tuple(chosen), tuple(rejected))


def best_of_n(chosen: float | None, rejected: Sequence[float | None]) -> float:
    """1 when the chosen score beats every rejected one, 1/k when k scores (its own included) share the top, 0
    otherwise; a missing score (a failed judgment) is below every score."""
    if chosen is None:
        return 0.0
    scores = [-math.inf if score is None else score for score in rejected]
    top = max(scores)
    if chosen > top:
        return 1.0
    if chosen < top:
        return 0.0
    return 1.0 / (1 + sum(score == top for score in scores))


@dataclass(frozen=True)
class _PromptStats:
    accurate: bool
    correct_spread: float | None
    correct_over_incorrect: float


def _stats(correct: Sequence[float], incorrect: Sequence[float]) -> _PromptStats:
    spread = max(correct) - min(correct) if len(correct) > 1 else None
    margin = min(correct) - max(incorrect)
    return _PromptStats(margin > 0, spread, margin)


def ties_score(rows: Sequence[Row], scores: Sequence[Sequence[float | None]]) -> dict[str, float]:
    """RewardBench 2's Ties score from every completion's score (the module docstring has the rule); a failed
    judgment scores below every other."""
    ref: dict[int, _PromptStats] = {}
    tied: dict[int, _PromptStats] = {}
    floor = min((s for row_scores in scores for s in row_scores if s is not None), default=0.0) - 1.0
    for row, row_scores in zip(rows, scores, strict=True):
        key = _ties_key(row.id)
        if key is None:
            raise RowError(f"a Ties row's id is `ref:N` or `tied:N`, not {row.id!r}")
        filled = [floor if s is None else s for s in row_scores]
        stats = _stats(filled[: len(row.chosen)], filled[len(row.chosen):])
        (ref if key[0] == "ref" else tied)[key[1]] = stats
    both = sorted(set(ref) & set(tied))
    preferred, preferred_hard, margins = [], [], []
    for question in both:
        spread = tied[question].correct_spread
        tied_margin, ref_margin = tied[question].correct_over_incorrect, ref[question].correct_over_incorrect
        hard_margin = min(ref_margin, tied_margin)
        preferred.append(spread is not None and tied_margin > spread)
        preferred_hard.append(spread is not None and hard_margin > spread)
        margins.append(_margin_score(hard_margin, spread))
    parts = {
        "tied_accuracy": _mean([s.accurate for s in tied.values()]),
        "ref_accuracy": _mean([s.accurate for s in ref.values()]),
        "correctness_preferred": _mean(preferred), "correctness_preferred_hard": _mean(preferred_hard),
        "correctness_margin_score": statistics.fmean(margins) if margins else 0.0,
    }
    parts["score"] = (0.30 * parts["tied_accuracy"] + 0.30 * parts["ref_accuracy"]
                      + 0.20 * parts["correctness_preferred"] + 0.20 * parts["correctness_preferred_hard"]
                      + 0.01 * parts["correctness_margin_score"])
    return parts


def _margin_score(margin: float, spread: float | None) -> float:
    """tanh(margin / spread − 1), as RewardBench 2 computes it with numpy: ±1 for a zero spread (±inf), 0 for
    0 / 0 (NaN) or no spread at all (one correct answer)."""
    if spread is None or (spread == 0 and margin == 0):
        return 0.0
    if spread == 0:
        return 1.0 if margin > 0 else -1.0
    return math.tanh(margin / spread - 1)


def _ties_key(row_id: str) -> tuple[str, int] | None:
    kind, _, number = row_id.partition(":")
    if kind not in ("ref", "tied") or not number.isdigit():
        return None
    return kind, int(number)


def _mean(values: Sequence[bool]) -> float:
    return sum(values) / len(values) if values else 0.0
