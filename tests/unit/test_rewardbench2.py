"""RewardBench 2's format and scoring, on rows written in its published shape (allenai/reward-bench-2)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from evaluation.rewardbench2 import RowError, best_of_n, parse_row, ties_score
from evaluation.rewardbench2_cli import subset_scores


def published(row_id: str, subset: str, chosen: list[str], rejected: list[str]) -> dict[str, Any]:
    """A row as the dataset ships it, every column present."""
    return {"id": row_id, "prompt": "Name a prime.", "chosen": chosen, "rejected": rejected,
            "num_correct": len(chosen), "num_incorrect": len(rejected),
            "total_completions": len(chosen) + len(rejected), "models": ["m"] * (len(chosen) + len(rejected)),
            "subset": subset}


def test_a_published_row_reads_with_the_chosen_completions_first() -> None:
    row = parse_row(published("7", "Factuality", ["2"], ["4", "6", "9"]))
    assert row.completions == ("2", "4", "6", "9") and row.subset == "Factuality"
    with pytest.raises(RowError, match="`rejected`"):
        parse_row(published("7", "Factuality", ["2"], []))
    with pytest.raises(RowError, match="num_correct"):
        parse_row({**published("7", "Math", ["2"], ["4"]), "num_correct": 2})
    with pytest.raises(RowError, match="ref:N"):
        parse_row(published("7", "Ties", ["2", "3"], ["4"]))


def test_best_of_four_needs_the_chosen_above_all_three_and_shares_a_tie() -> None:
    assert best_of_n(8, [7, 3, 1]) == 1.0
    assert best_of_n(8, [9, 3, 1]) == 0.0
    assert best_of_n(8, [8, 3, 1]) == 0.5
    assert best_of_n(5, [5, 5, 5]) == 0.25  # one score for all four: chance
    assert best_of_n(5, [None, None, 4]) == 1.0  # a failed judgment loses
    assert best_of_n(None, [1, 1, 1]) == 0.0


def test_ties_is_scored_by_the_weighted_rule() -> None:
    rows = [parse_row(published("ref:0", "Ties", ["2"], ["4", "6"])),
            parse_row(published("tied:0", "Ties", ["2", "3"], ["4"])),
            parse_row(published("ref:1", "Ties", ["5"], ["8"])),
            parse_row(published("tied:1", "Ties", ["5", "7"], ["9"]))]
    parts = ties_score(rows, [[8, 3, 5], [9, 7, 4], [5, 6], [8, 2, 3]])
    assert parts["tied_accuracy"] == 0.5 and parts["ref_accuracy"] == 0.5
    assert parts["correctness_preferred"] == 0.5 and parts["correctness_preferred_hard"] == 0.5
    margin = (math.tanh(3 / 2 - 1) + math.tanh(-1 / 6 - 1)) / 2
    assert parts["correctness_margin_score"] == pytest.approx(margin)
    assert parts["score"] == pytest.approx(0.5 + 0.01 * margin)


def test_the_overall_is_the_mean_of_subsets_and_pairwise_leaves_ties_out() -> None:
    rows = [parse_row(published("1", "Math", ["2"], ["4", "6", "9"])),
            parse_row(published("2", "Math", ["3"], ["4", "6", "9"])),
            parse_row(published("3", "Focus", ["3"], ["4", "6", "9"])),
            parse_row(published("ref:0", "Ties", ["2"], ["4"])),
            parse_row(published("tied:0", "Ties", ["2", "3"], ["4"]))]
    pointwise = subset_scores(rows, [[9, 1, 1, 1], [1, 9, 1, 1], None, [8, 3], [9, 8, 4]], "pointwise")
    assert pointwise["subsets"]["Math"] == 0.5 and pointwise["subsets"]["Focus"] == 0.0
    assert pointwise["failed"] == 1
    assert pointwise["subsets"]["Ties"] == pytest.approx(0.3 + 0.3 + 0.2 + 0.2 + 0.01 * math.tanh(4 / 1 - 1))
    assert pointwise["overall"] == pytest.approx((0.5 + 0.0 + pointwise["subsets"]["Ties"]) / 3)
    pairwise = subset_scores(rows, [[0.5, 0.2, 0.4, 0.1], [0.5, 0.6, 0.4, 0.1], [0.5, 0.5, 0.5, 0.5], None, None],
                             "pairwise")
    assert pairwise["subsets"] == {"Focus": 0.25, "Math": 0.5}
