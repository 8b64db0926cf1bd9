"""`report.html`: one self-contained page (figures embedded as PNG, no scripts, nothing fetched) with the
headline figures, the plots, the per-subset tables and what failed."""

from __future__ import annotations

import base64
import functools
import html
from collections.abc import Callable

from evaluation import plots
from evaluation.markdown import percent
from evaluation.stats import Estimate
from evaluation.summary_types import ModeSummary, RunSummary

REPORT_FILE = "report.html"

STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 1000px; color: #1d1d1f; padding: 0 1rem; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; } h2 { margin-top: 2.2rem; border-bottom: 1px solid #ddd; }
.meta { color: #555; } .cards { display: flex; flex-wrap: wrap; gap: .8rem; margin: 1.2rem 0; }
.card { border: 1px solid #ddd; border-radius: 8px; padding: .7rem 1rem; min-width: 180px; }
.card b { display: block; font-size: 1.5rem; } .card span { color: #555; font-size: .85rem; }
figure { margin: 1.2rem 0; } figure img { max-width: 100%; } figcaption { color: #555; font-size: .9rem; }
table { border-collapse: collapse; margin: .8rem 0; font-size: .9rem; }
td, th { border: 1px solid #ddd; padding: .3rem .6rem; text-align: left; } th { background: #f5f5f7; }
.warn { color: #a33; }
"""


def render(summary: RunSummary) -> str:
    run = summary.run
    parts = [f"<h1>Judge evaluation: {html.escape(', '.join(run.judge) or 'unknown judge')}</h1>",
             f"<p class=meta>{run.pairs} pairs from {html.escape(', '.join(run.data))} · votes "
             f"{', '.join(map(str, run.votes))} · seed {run.seed} · {run.judgments} judgments in "
             f"{run.wall_s} s ({run.judgments_per_s} judgments/s) · {run.sessions} session(s)</p>",
             _cards(summary)]
    parts += _figures(summary)
    parts += [_mode_tables(mode, figures) for mode, figures in summary.modes().items()]
    body = "\n".join(parts)
    return (f"<!doctype html>\n<html lang=en><head><meta charset=utf-8><title>Judge evaluation</title>"
            f"<link rel=icon href=\"data:,\"><style>{STYLE}</style></head><body>\n{body}\n</body></html>\n")


def _cards(summary: RunSummary) -> str:
    cards: list[tuple[str, Estimate | None]] = []
    for mode, figures in summary.modes().items():
        ties = figures.tie_rate.value
        cards.append((f"{mode} accuracy ({_value(figures.tie_rate)} ties)" if ties else f"{mode} accuracy",
                      figures.accuracy))
    if summary.pairwise is not None:
        cards += [("swap consistency", summary.pairwise.swap_consistency),
                  ("first position wins", summary.pairwise.first_position_wins)]
    return "<div class=cards>" + "".join(
        f"<div class=card><b>{_value(estimate)}</b><span>{html.escape(name)}<br>{_interval(estimate)}</span></div>"
        for name, estimate in cards) + "</div>"


def _value(estimate: Estimate | None) -> str:
    return "–" if estimate is None or estimate.value is None else f"{100 * estimate.value:.1f} %"


def _interval(estimate: Estimate | None) -> str:
    if estimate is None or estimate.low is None or estimate.high is None:
        return f"n={estimate.n if estimate is not None else 0}"
    return f"95 % CI {100 * estimate.low:.1f}–{100 * estimate.high:.1f}, n={estimate.n}"


def _figures(summary: RunSummary) -> list[str]:
    drawn: list[tuple[str, Callable[[], bytes], str]] = [
        ("Accuracy per subset", lambda: plots.accuracy_by_subset(summary),
         "Bars: accuracy at the run's largest vote count; whiskers: 95 % bootstrap interval over pairs."),
        ("Test-time scaling", lambda: plots.scaling_curve(summary),
         "Accuracy as votes grow, from vote prefixes of one run (votes are independent samples)."),
    ]
    pairwise = summary.pairwise
    if pairwise is not None:
        drawn.append(("Position bias", lambda: plots.position_bias(pairwise),
                      "Share of votes won by the response shown first, and accuracy by where the chosen one was "
                      "shown."))
        if pairwise.position_confusion is not None:
            confusion = pairwise.position_confusion
            drawn.append(("Verdicts by position", lambda: plots.position_confusion(confusion),
                          "Every pairwise vote, by where the chosen response was shown and which position won."))
    gap = summary.pointwise.score_gap if summary.pointwise is not None else None
    if gap is not None and gap.gaps:
        drawn.append(("Score distributions", lambda: plots.score_histograms(gap),
                      "Per pair, the mean score of the chosen and of the rejected response, and their difference."))
    for mode, figures in summary.modes().items():
        if figures.rm_bench is not None:
            draw = functools.partial(plots.rm_bench_matrix, figures.rm_bench, mode)
            drawn.append((f"RM-Bench, {mode}", draw,
                          "Chosen style against rejected style; above the diagonal is RM-Bench's hard set."))
    return [f"<h2>{html.escape(title)}</h2><figure><img alt=\"{html.escape(title)}\" "
            f"src=\"data:image/png;base64,{base64.b64encode(draw()).decode()}\"><figcaption>"
            f"{html.escape(caption)}</figcaption></figure>" for title, draw, caption in drawn]


def _mode_tables(mode: str, figures: ModeSummary) -> str:
    rows = [f"<h2>{mode.capitalize()}</h2>", "<table><tr><th>votes</th><th>accuracy</th><th>ties</th>"
            "<th>accuracy, tie = ½</th></tr>"]
    rows += [f"<tr><td>{p.votes}</td><td>{percent(p.accuracy)}</td><td>{percent(p.tie_rate)}</td>"
             f"<td>{percent(p.accuracy_ties_half)}</td></tr>" for p in figures.scaling]
    rows.append("</table>")
    for field, groups in (("source", figures.by_source), ("subset", figures.by_subset), ("task", figures.by_task)):
        rows.append(f"<table><tr><th>{field}</th><th>accuracy</th><th>ties</th></tr>")
        rows += [f"<tr><td>{html.escape(name)}</td><td>{percent(f.accuracy)}</td><td>{percent(f.tie_rate)}"
                 "</td></tr>" for name, f in groups.items()]
        rows.append("</table>")
    if figures.rm_bench is not None:
        rm = figures.rm_bench
        levels = ", ".join(f"{level} {percent(estimate)}"
                           for level, estimate in (("easy", rm.easy), ("normal", rm.normal), ("hard", rm.hard)))
        rows.append(f"<p>RM-Bench: {levels}</p>")
    cost = figures.cost
    rows.append(f"<p>Cost: {cost.judgments} judgments, {cost.prompt_tokens} prompt and "
                f"{cost.completion_tokens} completion tokens, {cost.engine_requests} engine requests, "
                f"{cost.judge_seconds} judge-seconds ({cost.seconds_per_pair} s per pair).</p>")
    problems = [f"{figures.failed} of {figures.pairs} pairs failed"] if figures.failed else []
    problems += [f"{count} × {html.escape(kind)}" for kind, count in figures.failures.items()]
    problems += [f"{count} judgments unparsed ({html.escape(kind)})"
                 for kind, count in figures.parse_failures.items()]
    problems += [f"{count} pairs flagged {html.escape(kind)}" for kind, count in figures.flags.items()]
    if problems:
        rows.append("<p class=warn>" + "; ".join(problems) + "</p>")
    return "\n".join(rows)
