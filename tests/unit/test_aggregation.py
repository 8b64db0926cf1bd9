"""Aggregating votes: pointwise mean/majority with spread, and the pairwise position-swap tally."""

from __future__ import annotations

import math

import pytest

from service.judging.aggregation import (
    PairwiseTally,
    aggregate_scores,
    majority_score,
    tally_votes,
    to_original_label,
)

# --- pointwise ---------------------------------------------------------------------------------------------


def test_mean_and_population_stdev_by_hand() -> None:
    # mean 5; squared deviations 9, 1, 1, 9 -> variance 20/4 = 5
    value, spread = aggregate_scores([2, 4, 6, 8], "mean")
    assert value == 5.0
    assert spread == pytest.approx(math.sqrt(5))


def test_mean_of_fractional_scores() -> None:
    # mean 7.5; deviations -0.5, 0, 0.5 -> variance (0.25 + 0 + 0.25)/3 = 1/6
    value, spread = aggregate_scores([7.0, 7.5, 8.0], "mean")
    assert value == pytest.approx(7.5)
    assert spread == pytest.approx(math.sqrt(1 / 6))


def test_single_vote_has_no_spread() -> None:
    assert aggregate_scores([7.5], "mean") == (7.5, 0.0)
    assert aggregate_scores([7.0], "majority") == (7.0, 0.0)


def test_identical_votes_have_no_spread() -> None:
    assert aggregate_scores([3, 3, 3], "mean") == (3.0, 0.0)


def test_majority_clear_mode() -> None:
    # mode 7; mean 32/5 = 6.4; variance (3*0.6^2 + 4.4^2 + 2.6^2)/5 = (1.08 + 19.36 + 6.76)/5 = 5.44
    value, spread = aggregate_scores([7, 7, 7, 2, 9], "majority")
    assert value == 7.0
    assert spread == pytest.approx(math.sqrt(5.44))


def test_majority_rounds_scores_before_counting() -> None:
    # 6.9, 7.2 and 7 all round to 7
    assert majority_score([6.9, 7.2, 7.0, 3.0, 3.0]) == 7.0


def test_majority_tie_goes_toward_the_mean() -> None:
    # 2 and 8 each twice, 9 once: mean 5.8, |8-5.8| = 2.2 < |2-5.8| = 3.8
    assert majority_score([2, 2, 8, 8, 9]) == 8.0
    # mean 4.2 with a 1 pulling down: |2-4.2| = 2.2 < |8-4.2| = 3.8
    assert majority_score([2, 2, 8, 8, 1]) == 2.0


def test_majority_tie_equidistant_goes_lower() -> None:
    # mean 5: both candidates 3 away
    assert majority_score([2, 8]) == 2.0
    assert majority_score([8, 2, 2, 8]) == 2.0
    assert majority_score([4, 6, 5, 5, 4, 6]) == 5.0  # three-way tie: 5 is the mean


def test_majority_returns_float() -> None:
    result = aggregate_scores([4, 4, 9], "majority")[0]
    assert isinstance(result, float)
    assert result == 4.0


@pytest.mark.parametrize("method", ["mean", "majority"])
def test_empty_scores_raise(method: str) -> None:
    with pytest.raises(ValueError, match="no scores"):
        aggregate_scores([], method)  # type: ignore[arg-type]


# --- pairwise ----------------------------------------------------------------------------------------------


def test_to_original_label() -> None:
    assert to_original_label("ab", "A") == "A"
    assert to_original_label("ab", "B") == "B"
    assert to_original_label("ba", "A") == "B"
    assert to_original_label("ba", "B") == "A"


def test_without_swap_consistency_is_none() -> None:
    tally = tally_votes([("ab", "A"), ("ab", "A"), ("ab", "B")], swapped=False)
    assert tally == PairwiseTally(p_a=pytest.approx(2 / 3), preference="A", consistent=None)  # type: ignore[arg-type]


def test_swap_consistent_when_both_orders_pick_the_same_response() -> None:
    # The judge saw response_a first in "ab" and second in "ba"; votes are already mapped back.
    shown = [("ab", "A"), ("ab", "A"), ("ba", "B"), ("ba", "B")]
    votes = [(order, to_original_label(order, label)) for order, label in shown]  # type: ignore[arg-type]
    assert votes == [("ab", "A"), ("ab", "A"), ("ba", "A"), ("ba", "A")]
    tally = tally_votes(votes, swapped=True)  # type: ignore[arg-type]
    assert tally.p_a == 1.0
    assert tally.preference == "A"
    assert tally.consistent is True


def test_swap_inconsistent_when_the_judge_always_picks_the_first_shown() -> None:
    shown = [("ab", "A"), ("ab", "A"), ("ba", "A"), ("ba", "A")]
    votes = [(order, to_original_label(order, label)) for order, label in shown]  # type: ignore[arg-type]
    tally = tally_votes(votes, swapped=True)  # type: ignore[arg-type]
    assert tally.p_a == 0.5
    assert tally.preference == "tie"
    assert tally.consistent is False


def test_swap_consistent_by_majority_not_unanimity() -> None:
    votes = [("ab", "B"), ("ab", "B"), ("ab", "A"), ("ba", "B"), ("ba", "A"), ("ba", "B")]
    tally = tally_votes(votes, swapped=True)  # type: ignore[arg-type]
    assert tally.p_a == pytest.approx(2 / 6)
    assert tally.preference == "B"
    assert tally.consistent is True


def test_swap_inconsistent_when_an_order_ties() -> None:
    votes = [("ab", "A"), ("ab", "B"), ("ba", "A"), ("ba", "A")]
    tally = tally_votes(votes, swapped=True)  # type: ignore[arg-type]
    assert tally.p_a == 0.75
    assert tally.preference == "A"
    assert tally.consistent is False


def test_swap_inconsistent_when_an_order_has_no_votes() -> None:
    tally = tally_votes([("ab", "A"), ("ab", "A")], swapped=True)
    assert tally.consistent is False


def test_p_a_counts_mapped_labels() -> None:
    # One vote per order, each shown "A": mapped back they are A (ab) and B (ba).
    votes = [("ab", to_original_label("ab", "A")), ("ba", to_original_label("ba", "A"))]
    tally = tally_votes(votes, swapped=True)  # type: ignore[arg-type]
    assert tally.p_a == 0.5
    assert tally.preference == "tie"


def test_preference_follows_p_a() -> None:
    assert tally_votes([("ab", "A")] * 3 + [("ab", "B")] * 2, swapped=False).preference == "A"
    assert tally_votes([("ab", "A")] * 2 + [("ab", "B")] * 3, swapped=False).preference == "B"
    tie = tally_votes([("ab", "A"), ("ab", "B")], swapped=False)
    assert tie.p_a == 0.5
    assert tie.preference == "tie"


def test_all_b_gives_p_a_zero() -> None:
    tally = tally_votes([("ab", "B"), ("ba", "B")], swapped=True)
    assert tally == PairwiseTally(0.0, "B", True)


def test_empty_votes_raise() -> None:
    with pytest.raises(ValueError, match="no votes"):
        tally_votes([], swapped=True)
