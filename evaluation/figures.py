"""Every figure of a run, computed from its per-item results and nothing else.

A pair's outcome at k votes: pointwise, the mean of the chosen response's first k scores against the rejected
one's (a tie when equal); pairwise, the first k votes of each order (of the `ab` order alone without swap),
counted for the chosen response against the rejected (with a probability verdict each judgment counts its
probability, so a pair is a tie only when the probabilities balance exactly). Votes are independent samples, so
the first k of a run at n votes are a run at k votes: one run gives the whole test-time scaling curve.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from typing import Any, Literal

from evaluation.results import ItemResult, Mode
from evaluation.stats import ratio
from evaluation.summary_types import Accuracy, Cost, ModeSummary, RMBench, ScalingPoint, ScoreGap

Outcome = Literal["correct", "tie", "wrong"]
CREDIT: dict[Outcome, float] = {"correct": 1.0, "tie": 0.5, "wrong": 0.0}
GROUPINGS = ("source", "subset", "task")


def pointwise_outcome(result: ItemResult, votes: int) -> Outcome | None:
    chosen, rejected = result.chosen_scores[:votes], result.rejected_scores[:votes]
    if result.status != "ok" or not chosen or not rejected:
        return None
    return _versus(statistics.fmean(chosen), statistics.fmean(rejected))


def pairwise_outcome(result: ItemResult, votes: int, swap: bool = True) -> Outcome | None:
    counted = [vote for order in (("ab", "ba") if swap else ("ab",))
               for vote in [v for v in result.votes if v.order == order][:votes]]
    if result.status != "ok" or not counted:
        return None
    chosen = sum(vote.chosen_credit for vote in counted)
    return _versus(chosen, len(counted) - chosen)


def outcome(result: ItemResult, votes: int) -> Outcome | None:
    return pointwise_outcome(result, votes) if result.mode == "pointwise" else pairwise_outcome(result, votes)


def _versus(chosen: float, rejected: float) -> Outcome:
    return "correct" if chosen > rejected else "tie" if chosen == rejected else "wrong"


def accuracy(outcomes: Iterable[Outcome | None]) -> Accuracy:
    """Strict accuracy (ties are not right), the tie rate, and accuracy with a tie as half right."""
    judged = [o for o in outcomes if o is not None]
    return Accuracy(accuracy=ratio([o == "correct" for o in judged]), tie_rate=ratio([o == "tie" for o in judged]),
                    accuracy_ties_half=ratio([CREDIT[o] for o in judged]))


def scaling(outcomes_at: Callable[[int], Iterable[Outcome | None]], vote_counts: list[int]) -> list[ScalingPoint]:
    return [ScalingPoint(votes=k, **dict(accuracy(outcomes_at(k)))) for k in sorted(vote_counts)]


def mode_summary(results: list[ItemResult], mode: Mode, vote_counts: list[int]) -> ModeSummary:
    """The figures of one mode, at the run's largest vote count unless named per vote count."""
    items = [r for r in results if r.mode == mode]
    ok = [r for r in items if r.status == "ok"]
    top = max(vote_counts)
    judge_outcome: Callable[[ItemResult, int], Outcome | None] = (
        pointwise_outcome if mode == "pointwise" else pairwise_outcome)
    at_top: Callable[[ItemResult], Outcome | None] = lambda r: judge_outcome(r, top)  # noqa: E731
    pairwise: dict[str, Any] = {}
    if mode == "pairwise":
        pairwise = {"no_swap": accuracy(pairwise_outcome(r, top, swap=False) for r in ok),
                    "no_swap_scaling": scaling(lambda k: (pairwise_outcome(r, k, swap=False) for r in ok), vote_counts),
                    **position(ok)}
    return ModeSummary(
        pairs=len(items), judged=len(ok), failed=len(items) - len(ok),
        failures=dict(Counter(_failure_kind(r.error) for r in items if r.status != "ok")),
        parse_failures=dict(sum((Counter(r.parse_failures) for r in items), Counter())),
        flags=dict(Counter(flag for r in items for flag in r.flags)),
        **dict(accuracy(at_top(r) for r in ok)),
        scaling=scaling(lambda k: (judge_outcome(r, k) for r in ok), vote_counts),
        by_source=_grouped(ok, "source", at_top), by_subset=_grouped(ok, "subset", at_top),
        by_task=_grouped(ok, "task", at_top), cost=_cost(items),
        rm_bench=rm_bench(ok, at_top) if any(r.styles for r in ok) else None,
        score_gap=score_gap(ok) if mode == "pointwise" else None,
        **pairwise,
    )


def _grouped(results: list[ItemResult], field: str, judge_outcome: Callable[[ItemResult], Outcome | None],
             ) -> dict[str, Accuracy]:
    groups: dict[str, list[ItemResult]] = defaultdict(list)
    for result in results:
        groups[str(getattr(result, field))].append(result)
    return {name: accuracy(judge_outcome(r) for r in members) for name, members in sorted(groups.items())}


def position(results: list[ItemResult]) -> dict[str, Any]:
    """Position bias over every vote: how often the first-shown response wins, accuracy with the chosen response
    shown first and second, and the 2x2 of where the chosen response was against which position won. Swap
    consistency: the share of pairs whose two orders, each by its majority, pick the same response."""
    first_wins = ratio([sum(v.first_credit for v in r.votes) for r in results], [len(r.votes) for r in results])
    shown_first = ratio([sum(v.chosen_credit for v in r.votes if v.chosen_first) for r in results],
                        [sum(v.chosen_first for v in r.votes) for r in results])
    shown_second = ratio([sum(v.chosen_credit for v in r.votes if not v.chosen_first) for r in results],
                         [sum(not v.chosen_first for v in r.votes) for r in results])
    confusion = {f"chosen_{where}": {f"{won}_won": sum(1 for r in results for v in r.votes
                                                       if v.chosen_first == (where == "first")
                                                       and v.first_won == (won == "first"))
                                     for won in ("first", "second")}
                 for where in ("first", "second")}
    return {"first_position_wins": first_wins, "accuracy_chosen_first": shown_first,
            "accuracy_chosen_second": shown_second, "position_confusion": confusion,
            "swap_consistency": ratio([swap_consistent(r) for r in results])}


def first_shown_share(result: ItemResult) -> float | None:
    """The share of a pair's votes (of probability, when read) that went to the response shown first."""
    return sum(v.first_credit for v in result.votes) / len(result.votes) if result.votes else None


def swap_consistent(result: ItemResult) -> bool:
    picks = []
    for order in ("ab", "ba"):
        chosen = sum(v.chosen_credit for v in result.votes if v.order == order)
        rejected = sum(1.0 - v.chosen_credit for v in result.votes if v.order == order)
        picks.append("chosen" if chosen > rejected else "rejected" if rejected > chosen else "tie")
    return picks[0] == picks[1] != "tie"


def score_gap(results: list[ItemResult]) -> ScoreGap:
    """Chosen minus rejected mean score per pair, and both means (the histograms' data)."""
    chosen = [statistics.fmean(r.chosen_scores) for r in results if r.chosen_scores and r.rejected_scores]
    rejected = [statistics.fmean(r.rejected_scores) for r in results if r.chosen_scores and r.rejected_scores]
    gaps = [c - j for c, j in zip(chosen, rejected, strict=True)]
    return ScoreGap(mean=ratio(gaps), median=round(statistics.median(gaps), 4) if gaps else None,
                    gaps=[round(g, 4) for g in gaps], chosen_means=[round(c, 4) for c in chosen],
                    rejected_means=[round(j, 4) for j in rejected])


def rm_bench(results: list[ItemResult], judge_outcome: Callable[[ItemResult], Outcome | None]) -> RMBench:
    """RM-Bench's 3x3 accuracy (chosen style by rejected style; ties count half, as a scalar RM cannot tie) and
    its easy (below the diagonal), normal (the diagonal) and hard (above) averages."""
    cells: dict[tuple[int, int], list[float]] = defaultdict(list)
    for result in results:
        judged = judge_outcome(result)
        if result.styles and judged is not None:
            cells[(result.styles[0], result.styles[1])].append(CREDIT[judged])
    matrix = [[round(statistics.fmean(cells[(i, j)]), 4) if cells[(i, j)] else None for j in range(3)]
              for i in range(3)]
    levels: dict[str, list[float]] = defaultdict(list)
    for (i, j), values in cells.items():
        levels["hard" if i < j else "normal" if i == j else "easy"].extend(values)
    return RMBench(matrix=matrix, easy=ratio(levels["easy"]), normal=ratio(levels["normal"]),
                   hard=ratio(levels["hard"]))


def _cost(items: list[ItemResult]) -> Cost:
    judge_seconds = sum(r.cost.latency_s for r in items)
    return Cost(prompt_tokens=sum(r.cost.prompt_tokens for r in items),
                completion_tokens=sum(r.cost.completion_tokens for r in items),
                engine_requests=sum(r.cost.engine_requests for r in items),
                judgments=sum(r.cost.judgments for r in items), judge_seconds=round(judge_seconds, 2),
                seconds_per_pair=round(judge_seconds / len(items), 3) if items else None)


def _failure_kind(error: str | None) -> str:
    """A failure's kind for counting: what comes before its message (`413 too_long`, `timeout`)."""
    return (error or "unknown").split(":")[0].split(" (")[0].strip()[:80]
