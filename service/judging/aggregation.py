"""Aggregating votes: pointwise scores (mean or majority, with spread) and pairwise votes (position swap)."""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
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
    preference = _preference(p_a)
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


def tally_probabilities(p_by_order: Mapping[Order, Sequence[float]], swapped: bool) -> PairwiseTally:
    """Calibrated swap averaging: p(A) (mapped to the request's labels) averaged within each order, then across
    the orders, so each order weighs the same however many of its votes were read. `consistent`: both orders'
    means lie on the same side of ½. Needs at least one probability."""
    means = [statistics.fmean(ps) for ps in p_by_order.values() if ps]
    if not means:
        raise ValueError("no probabilities to tally")
    p_a = statistics.fmean(means)
    if not swapped:
        return PairwiseTally(p_a, _preference(p_a), None)
    sides = {_preference(mean) for mean in means}
    return PairwiseTally(p_a, _preference(p_a), len(means) == 2 and len(sides) == 1 and "tie" not in sides)


def _preference(p_a: float) -> Preference:
    return "A" if p_a > 0.5 else "B" if p_a < 0.5 else "tie"
