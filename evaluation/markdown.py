"""`summary.md`: the headline figures as a Markdown table that pastes into an issue or a model card."""

from __future__ import annotations

from typing import Any


def percent(estimate: dict[str, Any] | None) -> str:
    """`61.0 % [55.2, 66.7] (n=300)`, or `–` when nothing was measured."""
    if not estimate or estimate.get("value") is None:
        return "–"
    interval = (f" [{100 * estimate['low']:.1f}, {100 * estimate['high']:.1f}]"
                if estimate.get("low") is not None else "")
    return f"{100 * estimate['value']:.1f} %{interval} (n={estimate['n']})"


def render(summary: dict[str, Any]) -> str:
    run = summary["run"]
    lines = [f"### Judge {', '.join(run['judge']) or '?'} on {', '.join(run['data'])}", "",
             f"{run['pairs']} pairs, votes {', '.join(map(str, run['votes']))}, seed {run['seed']}; "
             f"{run['judgments']} judgments in {run['wall_s']} s ({run['judgments_per_s']} judgments/s). "
             "Accuracy: the chosen response preferred (ties not counted right); 95 % bootstrap intervals.", "",
             "| mode | votes | accuracy | ties | accuracy, tie = ½ |", "| --- | --- | --- | --- | --- |"]
    for mode in ("pointwise", "pairwise"):
        for point in summary.get(mode, {}).get("scaling", []):
            lines.append(f"| {mode} | {point['votes']} | {percent(point['accuracy'])} | "
                         f"{percent(point['tie_rate'])} | {percent(point['accuracy_ties_half'])} |")
    if "pairwise" in summary:
        pairwise = summary["pairwise"]
        lines += ["", "| pairwise | value |", "| --- | --- |",
                  f"| without swap (one order) | {percent(pairwise['no_swap']['accuracy'])} |",
                  f"| swap consistency | {percent(pairwise['swap_consistency'])} |",
                  f"| first position wins | {percent(pairwise['first_position_wins'])} |",
                  f"| accuracy, chosen shown first | {percent(pairwise['accuracy_chosen_first'])} |",
                  f"| accuracy, chosen shown second | {percent(pairwise['accuracy_chosen_second'])} |"]
    for mode in ("pointwise", "pairwise"):
        if mode not in summary:
            continue
        lines += ["", f"| {mode}: subset | accuracy | ties |", "| --- | --- | --- |"]
        for name, figures in summary[mode]["by_subset"].items():
            lines.append(f"| {name} | {percent(figures['accuracy'])} | {percent(figures['tie_rate'])} |")
        failures = summary[mode]["failed"]
        parse = sum(summary[mode]["parse_failures"].values())
        lines.append(f"\n{mode}: {failures} pairs failed, {parse} judgments unparsed.")
    return "\n".join(lines) + "\n"
