"""The figures, computed by hand on small runs: outcomes at k votes, position bias, RM-Bench's matrix, the
intervals, and the paired tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from evaluation.figures import mode_summary, pairwise_outcome, pointwise_outcome
from evaluation.results import ItemResult, Vote
from evaluation.stats import mcnemar_exact, paired_test, ratio


def scored(pair: str, chosen: list[float], rejected: list[float], **fields: Any) -> ItemResult:
    return ItemResult(pair=pair, mode="pointwise", source="s", subset=fields.pop("subset", "x"), task="chat",
                      status="ok", chosen_scores=chosen, rejected_scores=rejected, **fields)


def compared(pair: str, chosen_first_in_ab: bool, ab: str, ba: str, **fields: Any) -> ItemResult:
    """`ab`/`ba`: the winners of each order's votes, c(hosen) or r(ejected), e.g. "ccr"."""
    votes = [Vote(order=order, chosen_first=(order == "ab") == chosen_first_in_ab,
                  winner="chosen" if w == "c" else "rejected") for order, wins in (("ab", ab), ("ba", ba))
             for w in wins]
    return ItemResult(pair=pair, mode="pairwise", source="s", subset="x", task="chat", status="ok", votes=votes,
                      **fields)


def test_pointwise_outcomes_use_the_first_k_scores_and_count_ties() -> None:
    result = scored("p", chosen=[8, 2, 2, 2], rejected=[5, 5, 5, 5])
    assert [pointwise_outcome(result, k) for k in (1, 2, 3, 4)] == ["correct", "tie", "wrong", "wrong"]
    assert pointwise_outcome(scored("q", [], [5]), 4) is None  # no verdict for one side: not judged


def test_pairwise_outcomes_count_both_orders_or_only_the_first() -> None:
    result = compared("p", chosen_first_in_ab=True, ab="rrc", ba="ccc")
    assert pairwise_outcome(result, 1) == "tie"  # one vote each way
    assert pairwise_outcome(result, 3) == "correct"  # 4 of 6 for the chosen one
    assert pairwise_outcome(result, 3, swap=False) == "wrong"  # the ab order alone: 1 of 3


def test_a_run_summary_is_recomputed_from_its_items() -> None:
    results = [scored("a", [9, 9], [1, 1], subset="easy"), scored("b", [5, 5], [5, 5], subset="easy"),
               scored("c", [2, 8], [6, 6], subset="hard"), scored("d", [4, 4], [6, 6], subset="hard"),
               ItemResult(pair="e", mode="pointwise", source="s", subset="hard", task="chat", status="failed",
                          error="too_long (chosen): 9000 tokens"),
               scored("f", [7, 7], [3, 3], subset="hard", parse_failures={"no_answer": 2})]
    summary = mode_summary(results, "pointwise", [1, 2])
    assert (summary.pairs, summary.judged, summary.failed) == (6, 5, 1)
    assert summary.failures == {"too_long": 1} and summary.parse_failures == {"no_answer": 2}
    assert summary.accuracy.value == 2 / 5 and summary.accuracy.n == 5
    assert summary.tie_rate.value == 1 / 5 and summary.accuracy_ties_half.value == 2.5 / 5
    at_one = summary.scaling[0]
    assert at_one.votes == 1 and at_one.accuracy.value == 2 / 5  # c: 2 < 6 at one vote
    assert summary.by_subset["easy"].accuracy.value == 0.5
    assert summary.by_subset["hard"].accuracy.value == pytest.approx(1 / 3, abs=1e-4)
    assert summary.score_gap.gaps == [8.0, 0.0, -1.0, -2.0, 4.0] and summary.score_gap.median == 0.0


def test_position_bias_is_measured_over_votes_with_the_chosen_response_in_each_place() -> None:
    # A judge that always picks the first-shown response: half its votes are right, all first-position wins.
    biased = [compared(str(i), chosen_first_in_ab=i % 2 == 0, ab="c" * 2 if i % 2 == 0 else "r" * 2,
                       ba="r" * 2 if i % 2 == 0 else "c" * 2) for i in range(6)]
    summary = mode_summary(biased, "pairwise", [2])
    assert summary.first_position_wins.value == 1.0
    assert summary.accuracy_chosen_first.value == 1.0 and summary.accuracy_chosen_second.value == 0.0
    assert summary.swap_consistency.value == 0.0 and summary.tie_rate.value == 1.0
    assert summary.position_confusion == {"chosen_first": {"first_won": 12, "second_won": 0},
                                          "chosen_second": {"first_won": 12, "second_won": 0}}
    assert summary.no_swap.accuracy.value == 0.5  # one order only: right whenever the chosen is first
    fair = mode_summary([compared("x", True, "cc", "cc")], "pairwise", [2])
    assert fair.swap_consistency.value == 1.0 and fair.first_position_wins.value == 0.5


def test_rm_bench_pairs_fill_the_style_matrix_and_its_three_levels() -> None:
    results = [scored(f"{i}{j}", [6] if i >= j else [4], [5], styles=[i, j]) for i in range(3) for j in range(3)]
    rm = mode_summary(results, "pointwise", [1]).rm_bench
    assert rm.matrix == [[1.0, 0.0, 0.0], [1.0, 1.0, 0.0], [1.0, 1.0, 1.0]]
    assert (rm.easy.value, rm.normal.value, rm.hard.value) == (1.0, 1.0, 0.0)


def test_bootstrap_intervals_hold_the_value_and_narrow_with_more_items() -> None:
    small, large = ratio([1, 0] * 10), ratio([1, 0] * 500)
    for estimate in (small, large):
        assert estimate.value == 0.5 and estimate.low is not None and estimate.high is not None
        assert estimate.low < 0.5 < estimate.high
    assert (large.high - large.low) < (small.high - small.low) / 4  # width shrinks like 1/sqrt(n)
    assert ratio([]).value is None and ratio([3, 1], [4, 0]).value == 1.0  # a ratio of sums
    assert ratio([1, 1, 1]).low == 1.0  # no variation, no width


def test_mcnemar_and_the_paired_bootstrap_tell_a_real_difference_from_noise() -> None:
    assert mcnemar_exact(0, 10) == pytest.approx(2 / 1024)  # all ten discordant pairs one way
    assert mcnemar_exact(5, 5) == 1.0 and mcnemar_exact(0, 0) is None
    a, b = [0.0] * 40 + [1.0] * 60, [1.0] * 40 + [1.0] * 60  # B fixes 40 pairs, breaks none
    better = paired_test(a, b)
    assert better.difference.value == 0.4 and better.difference.low is not None and better.difference.low > 0.25
    assert better.p_bootstrap == 0.0 and better.p_mcnemar is not None and better.p_mcnemar < 1e-9
    same = paired_test([1.0, 0.0] * 20, [0.0, 1.0] * 20)  # as accurate, on different pairs
    assert same.difference.value == 0.0 and same.p_bootstrap is not None and same.p_bootstrap > 0.5
    assert same.p_mcnemar == 1.0 and (same.only_a_right, same.only_b_right) == (20, 20)


def test_compare_tests_the_pairwise_behaviour_pair_by_pair(tmp_path: Path) -> None:
    """A judge that always picks the first-shown response (A) against one that is position-blind and right (B):
    the first-shown share falls from 1 to ½ and swap consistency rises from 0 to 1, each with its interval."""
    from evaluation.compare import compare_runs, render
    from evaluation.results import ResultLog

    biased, blind = tmp_path / "biased", tmp_path / "blind"
    for directory, ab, ba in ((biased, "c", "r"), (blind, "c", "c")):
        log = ResultLog(directory)
        for index in range(20):
            log.append(compared(str(index), chosen_first_in_ab=True, ab=ab, ba=ba))
    behaviour = compare_runs(biased, blind)["pairwise"]["behaviour"]
    share, consistency = behaviour["first_shown_share"], behaviour["swap_consistency"]
    assert (share["a"], share["b"], share["n"]) == (1.0, 0.5, 20)
    assert share["difference"]["value"] == pytest.approx(-0.5) and share["difference"]["high"] < 0
    assert (consistency["a"], consistency["b"], consistency["only_b_right"]) == (0.0, 1.0, 20)
    assert consistency["p_mcnemar"] < 0.001
    table = render(compare_runs(biased, blind))
    assert "| first shown wins | 20 | 100.0 % | 50.0 % | -50.0 pts" in table
    assert "| swap consistency | 20 | 0.0 % | 100.0 % | +100.0 pts" in table
