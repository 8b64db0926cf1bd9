"""`summary.json`: the run (what, against which judge, how long) and every figure of every mode it judged."""

from __future__ import annotations

from evaluation.figures import mode_summary
from evaluation.results import MODES, ItemResult, RunFile
from evaluation.summary_types import RunInfo, RunSummary

SUMMARY_FILE = "summary.json"


def summarize(results: list[ItemResult], run: RunFile) -> RunSummary:
    wall_s = sum(session.wall_s for session in run.sessions)
    modes = {mode: mode_summary(results, mode, run.config.votes) for mode in MODES
             if any(r.mode == mode for r in results)}
    judgments = sum(summary.cost.judgments for summary in modes.values())
    info = RunInfo(
        url=run.url, data=run.data, judge=sorted({r.model for r in results if r.model}), votes=run.config.votes,
        seed=run.config.seed, max_tokens=run.config.max_tokens, pairs=len({r.pair for r in results}),
        sessions=len(run.sessions), interrupted_sessions=sum(session.interrupted for session in run.sessions),
        wall_s=round(wall_s, 1), judgments=judgments,
        judgments_per_s=round(judgments / wall_s, 3) if wall_s > 0 else None,
    )
    return RunSummary(run=info, pointwise=modes.get("pointwise"), pairwise=modes.get("pairwise"))
