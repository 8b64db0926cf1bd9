"""`summary.md`: the headline figures as a Markdown table that pastes into an issue or a model card."""

from __future__ import annotations

from evaluation.stats import Estimate
from evaluation.summary_types import RunSummary


def percent(estimate: Estimate | None) -> str:
    """`61.0 % [55.2, 66.7] (n=300)`, or `–` when nothing was measured."""
    if estimate is None or estimate.value is None:
        return "–"
    interval = (f" [{100 * estimate.low:.1f}, {100 * estimate.high:.1f}]"
                if estimate.low is not None and estimate.high is not None else "")
    return f"{100 * estimate.value:.1f} %{interval} (n={estimate.n})"


def render(summary: RunSummary) -> str:
    run = summary.run
    lines = [f"### Judge {', '.join(run.judge) or '?'} on {', '.join(run.data)}", "",
             f"{run.pairs} pairs, votes {', '.join(map(str, run.votes))}, seed {run.seed}; "
             f"{run.judgments} judgments in {run.wall_s} s ({run.judgments_per_s} judgments/s). "
             "Accuracy: the chosen response preferred (ties not counted right); 95 % bootstrap intervals.", "",
             "| mode | votes | accuracy | ties | accuracy, tie = ½ |", "| --- | --- | --- | --- | --- |"]
    modes = summary.modes()
    for mode, figures in modes.items():
        for point in figures.scaling:
            lines.append(f"| {mode} | {point.votes} | {percent(point.accuracy)} | "
                         f"{percent(point.tie_rate)} | {percent(point.accuracy_ties_half)} |")
    pairwise = summary.pairwise
    if pairwise is not None:
        lines += ["", "| pairwise | value |", "| --- | --- |",
                  f"| without swap (one order) | {percent(pairwise.no_swap.accuracy if pairwise.no_swap else None)} |",
                  f"| swap consistency | {percent(pairwise.swap_consistency)} |",
                  f"| first position wins | {percent(pairwise.first_position_wins)} |",
                  f"| accuracy, chosen shown first | {percent(pairwise.accuracy_chosen_first)} |",
                  f"| accuracy, chosen shown second | {percent(pairwise.accuracy_chosen_second)} |"]
    for mode, figures in modes.items():
        lines += ["", f"| {mode}: subset | accuracy | ties |", "| --- | --- | --- |"]
        for name, subset in figures.by_subset.items():
            lines.append(f"| {name} | {percent(subset.accuracy)} | {percent(subset.tie_rate)} |")
        parse = sum(figures.parse_failures.values())
        lines.append(f"\n{mode}: {figures.failed} pairs failed, {parse} judgments unparsed.")
    return "\n".join(lines) + "\n"
