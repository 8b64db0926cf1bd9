"""The report's figures, drawn with matplotlib (no display needed) and returned as PNG bytes."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)
from matplotlib.figure import Figure  # noqa: E402

from evaluation.pairs import RM_BENCH_STYLES  # noqa: E402
from evaluation.stats import Estimate  # noqa: E402
from evaluation.summary_types import ModeSummary, RMBench, RunSummary, ScoreGap  # noqa: E402

COLORS = {"pointwise": "#3b6ea8", "pairwise": "#d1793b", "no_swap": "#8c8c8c"}
DPI = 110


def png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


def _interval(estimate: Estimate | None) -> tuple[float, float, float]:
    if estimate is None or estimate.value is None:
        return 0.0, 0.0, 0.0
    value = estimate.value
    low = estimate.low if estimate.low is not None else value
    high = estimate.high if estimate.high is not None else value
    return 100 * value, 100 * (value - low), 100 * (high - value)


def accuracy_by_subset(summary: RunSummary) -> bytes:
    modes = summary.modes()
    subsets = sorted({name for figures in modes.values() for name in figures.by_subset})
    figure, axes = plt.subplots(figsize=(7.5, 0.55 * len(subsets) * len(modes) + 1.4))
    height = 0.8 / len(modes)
    for index, (mode, figures) in enumerate(modes.items()):
        values = [_interval(figures.by_subset[name].accuracy if name in figures.by_subset else None)
                  for name in subsets]
        positions = [row + index * height for row in range(len(subsets))]
        axes.barh(positions, [v[0] for v in values], height, xerr=[[v[1] for v in values], [v[2] for v in values]],
                  color=COLORS[mode], label=mode, capsize=3)
    axes.set_yticks([row + height * (len(modes) - 1) / 2 for row in range(len(subsets))], subsets)
    axes.axvline(50, color="#555", linestyle="--", linewidth=1, label="chance")
    axes.set_xlim(0, 100)
    axes.set_xlabel("accuracy, % (95 % bootstrap interval; ties not counted right)")
    axes.invert_yaxis()
    axes.legend(loc="lower right", fontsize=8)
    axes.set_title("Accuracy per subset")
    return png(figure)


def scaling_curve(summary: RunSummary) -> bytes:
    figure, axes = plt.subplots(figsize=(6.5, 3.8))
    modes = summary.modes()
    curves = [("pointwise", "pointwise", False), ("pairwise", "pairwise, both orders", False),
              ("pairwise", "pairwise, one order", True)]
    for mode, label, one_order in curves:
        if mode not in modes:
            continue
        points = (modes[mode].no_swap_scaling or []) if one_order else modes[mode].scaling
        votes = [point.votes for point in points]
        values = [_interval(point.accuracy) for point in points]
        color = COLORS["no_swap" if one_order else mode]
        axes.errorbar(votes, [v[0] for v in values], yerr=[[v[1] for v in values], [v[2] for v in values]],
                      marker="o", capsize=3, color=color, label=label)
    axes.axhline(50, color="#555", linestyle="--", linewidth=1)
    axes.set_xscale("log", base=2)
    all_votes = sorted({p.votes for figures in modes.values() for p in figures.scaling})
    axes.set_xticks(all_votes, [str(v) for v in all_votes])
    axes.set_ylim(0, 100)
    axes.set_xlabel("votes (per order for pairwise)")
    axes.set_ylabel("accuracy, %")
    axes.set_title("Test-time scaling: accuracy against votes")
    axes.legend(fontsize=8)
    return png(figure)


def position_bias(pairwise: ModeSummary) -> bytes:
    bars = [("first position\nwins", pairwise.first_position_wins),
            ("accuracy,\nchosen shown first", pairwise.accuracy_chosen_first),
            ("accuracy,\nchosen shown second", pairwise.accuracy_chosen_second),
            ("swap\nconsistency", pairwise.swap_consistency)]
    values = [_interval(estimate) for _, estimate in bars]
    figure, axes = plt.subplots(figsize=(6.5, 3.4))
    axes.bar(range(len(bars)), [v[0] for v in values], yerr=[[v[1] for v in values], [v[2] for v in values]],
             color=["#d1793b", "#3b6ea8", "#6fa0d6", "#5a9e6f"], capsize=4)
    axes.axhline(50, color="#555", linestyle="--", linewidth=1)
    axes.set_xticks(range(len(bars)), [name for name, _ in bars], fontsize=8)
    axes.set_ylim(0, 100)
    axes.set_ylabel("%, over every pairwise vote")
    axes.set_title("Position bias (an unbiased judge: 50 % first-position wins)")
    return png(figure)


def score_histograms(gap: ScoreGap) -> bytes:
    figure, (scores, gaps) = plt.subplots(1, 2, figsize=(9, 3.4))
    bins = [b / 2 for b in range(0, 21)]
    scores.hist(gap.chosen_means, bins=bins, alpha=0.6, color="#3b6ea8", label="chosen")
    scores.hist(gap.rejected_means, bins=bins, alpha=0.6, color="#c44e52", label="rejected")
    scores.set_xlabel("mean score (0-10)")
    scores.set_ylabel("pairs")
    scores.set_title("Scores: chosen vs rejected")
    scores.legend(fontsize=8)
    gaps.hist(gap.gaps, bins=[b / 2 for b in range(-20, 21)], color="#5a9e6f")
    gaps.axvline(0, color="#555", linestyle="--", linewidth=1)
    gaps.set_xlabel("chosen - rejected")
    gaps.set_title("Score gap per pair")
    return png(figure)


def position_confusion(confusion: dict[str, dict[str, int]]) -> bytes:
    rows = ("chosen_first", "chosen_second")
    cells = [[confusion[row]["first_won"], confusion[row]["second_won"]] for row in rows]
    figure, axes = plt.subplots(figsize=(4.6, 3.6))
    axes.imshow(cells, cmap="Blues")
    for i, row in enumerate(cells):
        for j, count in enumerate(row):
            axes.text(j, i, str(count), ha="center", va="center", fontsize=12,
                      color="white" if count > max(max(r) for r in cells) / 2 else "black")
    axes.set_xticks([0, 1], ["first won", "second won"])
    axes.set_yticks([0, 1], ["chosen shown first", "chosen shown second"])
    axes.set_title("Verdicts by position (votes)")
    return png(figure)


def rm_bench_matrix(rm_bench: RMBench, mode: str) -> bytes:
    matrix = [[100 * v if v is not None else float("nan") for v in row] for row in rm_bench.matrix]
    figure, axes = plt.subplots(figsize=(4.8, 3.9))
    axes.imshow(matrix, cmap="RdYlGn", vmin=0, vmax=100)
    for i, row in enumerate(matrix):
        for j, value in enumerate(row):
            axes.text(j, i, "–" if value != value else f"{value:.0f}", ha="center", va="center")
    axes.set_xticks(range(3), RM_BENCH_STYLES, fontsize=8)
    axes.set_yticks(range(3), RM_BENCH_STYLES, fontsize=8)
    axes.set_xlabel("rejected style")
    axes.set_ylabel("chosen style")
    axes.set_title(f"RM-Bench accuracy, {mode} (%)")
    return png(figure)
