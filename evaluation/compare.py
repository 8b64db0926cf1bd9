"""`genrm eval compare RUN_A RUN_B`: two judges (or checkpoints) on the same pairs, with a paired test.

Per mode, on the pairs both runs judged: each judge's accuracy (a tie counts half, so that a judge that ties
more is not favoured by dropping pairs), B minus A with a paired-bootstrap interval and p-value, and McNemar's
exact test on the pairs exactly one of them got right. Pairwise, also the judges' behaviour pair by pair, each
with B minus A and its paired-bootstrap interval: the first-shown response's share of a pair's votes (of
probability, when read; a position-blind judge sits at ½) and swap consistency (both orders pick the same
response; McNemar on the pairs only one judge was consistent on).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from evaluation.figures import CREDIT, first_shown_share, outcome, swap_consistent
from evaluation.results import MODES, ItemResult, read_results, read_run
from evaluation.stats import paired_test


def compare_runs(run_a: Path, run_b: Path, votes: int | None = None) -> dict[str, Any]:
    results_a, results_b = read_results(run_a), read_results(run_b)
    compared: dict[str, Any] = {"a": _describe(run_a, results_a), "b": _describe(run_b, results_b)}
    for mode in MODES:
        by_pair_a = {r.pair: r for r in results_a if r.mode == mode and r.status == "ok"}
        by_pair_b = {r.pair: r for r in results_b if r.mode == mode and r.status == "ok"}
        common = sorted(by_pair_a.keys() & by_pair_b.keys())
        if not common:
            continue
        k = votes or min(_votes_of(run_a), _votes_of(run_b))
        credits = [(outcome(by_pair_a[p], k), outcome(by_pair_b[p], k)) for p in common]
        scored = [(CREDIT[a], CREDIT[b]) for a, b in credits if a is not None and b is not None]
        test = paired_test([a for a, _ in scored], [b for _, b in scored])
        compared[mode] = {"votes": k, "common_pairs": len(common),
                          "only_in_a": len(by_pair_a.keys() - by_pair_b.keys()),
                          "only_in_b": len(by_pair_b.keys() - by_pair_a.keys()), **test.model_dump()}
        if mode == "pairwise":
            compared[mode]["behaviour"] = _behaviour([(by_pair_a[p], by_pair_b[p]) for p in common])
    return compared


def _behaviour(pairs: list[tuple[ItemResult, ItemResult]]) -> dict[str, Any]:
    shares = [(first_shown_share(a), first_shown_share(b)) for a, b in pairs]
    shared = [(a, b) for a, b in shares if a is not None and b is not None]
    consistent = [(float(swap_consistent(a)), float(swap_consistent(b))) for a, b in pairs]
    return {name: paired_test([a for a, _ in values], [b for _, b in values]).model_dump()
            for name, values in (("first_shown_share", shared), ("swap_consistency", consistent))}


def _describe(directory: Path, results: list[ItemResult]) -> dict[str, Any]:
    return {"run": str(directory), "judge": sorted({r.model for r in results if r.model})}


def _votes_of(directory: Path) -> int:
    run = read_run(directory)
    return max(run.config.votes) if run else 1


def render(compared: dict[str, Any]) -> str:
    a, b = compared["a"], compared["b"]
    lines = [f"### A: {', '.join(a['judge'])} ({a['run']}) vs B: {', '.join(b['judge'])} ({b['run']})", "",
             "Accuracy with a tie as ½, on the pairs both judged; difference B − A with its paired-bootstrap 95 % "
             "interval; McNemar's exact test on the pairs only one got right.", "",
             "| mode | votes | pairs | A | B | B − A | p (bootstrap) | A only / B only right | p (McNemar) |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for mode in MODES:
        if mode not in compared:
            continue
        row = compared[mode]
        lines.append(f"| {mode} | {row['votes']} | {row['n']} | {_share(row['a'])} | {_share(row['b'])} | "
                     f"{_difference(row['difference'])} | "
                     f"{row['p_bootstrap']} | {row['only_a_right']} / {row['only_b_right']} | {row['p_mcnemar']} |")
    if not any(mode in compared for mode in MODES):
        lines.append("| – | – | 0 | – | – | – | – | – | – |")
    if "behaviour" in compared.get("pairwise", {}):
        lines += ["", "Pairwise behaviour, pair by pair: the first-shown response's share of a pair's votes (½ is "
                  "position-blind) and swap consistency; B − A with its paired-bootstrap 95 % interval.", "",
                  "| pairwise | pairs | A | B | B − A | p (bootstrap) | p (McNemar) |",
                  "| --- | --- | --- | --- | --- | --- | --- |"]
        for name, label in (("first_shown_share", "first shown wins"), ("swap_consistency", "swap consistency")):
            row = compared["pairwise"]["behaviour"][name]
            lines.append(f"| {label} | {row['n']} | {_share(row['a'])} | {_share(row['b'])} | "
                         f"{_difference(row['difference'])} | {row['p_bootstrap']} | "
                         f"{row['p_mcnemar'] if name == 'swap_consistency' else '–'} |")
    return "\n".join(lines) + "\n"


def _difference(difference: dict[str, Any]) -> str:
    if difference["value"] is None:
        return "–"
    return f"{100 * difference['value']:+.1f} pts [{100 * difference['low']:+.1f}, {100 * difference['high']:+.1f}]"


def _share(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f} %"
