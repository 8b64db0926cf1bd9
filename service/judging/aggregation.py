"""Aggregating votes: pointwise scores (mean or majority, with spread) and pairwise votes (position swap)."""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Aggregate = Literal["mean", "majority"]
Order = Literal["ab", "ba"]
Label = Literal["A", "B"]
Preference = Literal["A", "B", "tie"]


def aggregate_scores(scores: Sequence[float], method: Aggregate) -> tuple[float, float]:
    """(aggregate, population standard deviation) of one item's vote scores; needs at least one score."""
    if not scores:
        raise ValueError("no scores to aggregate")
    spread = statistics.pstdev(scores)
    if method == "mean":
        return statistics.fmean(scores), spread
    return majority_score(scores), spread


def majority_score(scores: Sequence[float]) -> float:
    """The most frequent score rounded half-up to an integer; a tie goes to the candidate nearest the mean, then
    lower. (Python's `round` rounds halves to even: 6.5 -> 6 but 7.5 -> 8.)"""
    counts = Counter(math.floor(score + 0.5) for score in scores)
    top = max(counts.values())
    mean = statistics.fmean(scores)
    return float(min((c for c, n in counts.items() if n == top), key=lambda c: (abs(c - mean), c)))


def to_original_label(order: Order, shown_winner: Label) -> Label:
    """Map a winner as shown in one order back to the request's labels: in `ba`, shown A is response_b."""
    if order == "ab":
        return shown_winner
    return "B" if shown_winner == "A" else "A"


@dataclass(frozen=True)
class PairwiseTally:
    p_a: float
    preference: Preference
    consistent: bool | None


def tally_votes(votes: Sequence[tuple[Order, Label]], swapped: bool) -> PairwiseTally:
    """Votes already mapped to original labels. `consistent`: each order's majority names the same winner."""
    if not votes:
        raise ValueError("no votes to tally")
    p_a = sum(1 for _, winner in votes if winner == "A") / len(votes)
    preference: Preference = "A" if p_a > 0.5 else "B" if p_a < 0.5 else "tie"
    if not swapped:
        return PairwiseTally(p_a, preference, None)
    majorities = {_order_majority([w for o, w in votes if o == order]) for order in ("ab", "ba")}
    consistent = len(majorities) == 1 and None not in majorities
    return PairwiseTally(p_a, preference, consistent)


def _order_majority(winners: Sequence[Label]) -> Label | None:
    a_votes = winners.count("A")
    b_votes = len(winners) - a_votes
    if a_votes == b_votes:
        return None
    return "A" if a_votes > b_votes else "B"
