"""`genrm eval rewardbench2`: a judge on RewardBench 2 rows (evaluation/rewardbench2.py has the format and rules).

    genrm eval rewardbench2 DATA --out DIR [--url URL] [--mode pointwise|pairwise|both] [--verdict V] [--votes N]

Each subset's score (best-of-4 outside Ties, the weighted rule in Ties), their mean (RewardBench 2's overall), the
rows judged and failed, tokens and wall time. Writes `DIR/rewardbench2.json` and `DIR/rewardbench2.md`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from collections import defaultdict
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from evaluation.rewardbench2 import TIES, Row, RowError, best_of_n, parse_row, ties_score
from genrm_client import AsyncJudgeClient, CompareItemIn, CompareRequest, LocalGateway, ScoreItemIn, ScoreRequest
from genrm_wire.judging import SamplingIn

USAGE_ERROR = 2
Scores = list[float | None]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="genrm eval rewardbench2", description="Score a judge on RewardBench 2.")
    parser.add_argument("data", type=Path, help="JSON Lines rows in RewardBench 2's format")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--url", help="the service; omitted: start the embedded default for this run")
    parser.add_argument("--api-key", default=os.environ.get("GENRM_API_KEY"))
    parser.add_argument("--mode", choices=("pointwise", "pairwise", "both"), default="pointwise")
    parser.add_argument("--verdict", choices=("sampled", "expected", "direct"), default="sampled")
    parser.add_argument("--votes", type=int, default=1)
    parser.add_argument("--task", default="chat", help="rubric domain for every row (default chat)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-tokens", type=int)
    parser.add_argument("--model")
    parser.add_argument("--limit", type=int, help="only the first N rows")
    parser.add_argument("--workdir", type=Path, default=Path.cwd())
    return parser


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    if not args.data.is_file():
        print(f"genrm eval rewardbench2: no such file: {args.data}", file=sys.stderr)
        return USAGE_ERROR
    try:
        rows = [parse_row(json.loads(line)) for line in args.data.read_text(encoding="utf-8").splitlines()
                if line.strip()][: args.limit]
    except (RowError, json.JSONDecodeError) as error:
        print(f"genrm eval rewardbench2: {args.data}: {error}", file=sys.stderr)
        return USAGE_ERROR
    modes = ["pointwise", "pairwise"] if args.mode == "both" else [args.mode]
    results: dict[str, Any] = {}
    with ExitStack() as stack:
        url = args.url or stack.enter_context(LocalGateway(workdir=args.workdir))
        for mode in modes:
            started = time.monotonic()
            scores, usage = asyncio.run(_judge_at(url, args, rows, mode))
            results[mode] = {**subset_scores(rows, scores, mode), **usage,
                             "wall_s": round(time.monotonic() - started, 2)}
    args.out.mkdir(parents=True, exist_ok=True)
    report = {"verdict": args.verdict, "votes": args.votes, "rows": len(rows), "modes": results}
    (args.out / "rewardbench2.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    table = render(report)
    (args.out / "rewardbench2.md").write_text(table, encoding="utf-8")
    print(table)
    return 0


def subset_scores(rows: list[Row], scores: list[Scores | None], mode: str) -> dict[str, Any]:
    """Each subset's score and RewardBench 2's overall (their mean); a row whose request failed scores 0 (outside
    Ties) and counts as `failed`. Pairwise leaves Ties out."""
    by_subset: dict[str, list[float]] = defaultdict(list)
    ties: list[tuple[Row, Scores]] = []
    for row, row_scores in zip(rows, scores, strict=True):
        if row.subset == TIES:
            if mode == "pointwise" and row_scores is not None:
                ties.append((row, row_scores))
            continue
        by_subset[row.subset].append(0.0 if row_scores is None else best_of_n(row_scores[0], row_scores[1:]))
    subsets = {name: statistics.fmean(values) for name, values in sorted(by_subset.items())}
    if ties:
        subsets[TIES] = ties_score([row for row, _ in ties], [s for _, s in ties])["score"]
    failed = sum(s is None for row, s in zip(rows, scores, strict=True) if mode == "pointwise" or row.subset != TIES)
    return {"subsets": subsets, "overall": statistics.fmean(subsets.values()) if subsets else None, "failed": failed}


async def _judge_at(url: str, args: argparse.Namespace, rows: list[Row],
                    mode: str) -> tuple[list[Scores | None], dict[str, int]]:
    async with AsyncJudgeClient(url, api_key=args.api_key) as client:
        return await judge_rows(client, rows, mode, settings(args))


def settings(args: argparse.Namespace) -> dict[str, Any]:
    """The request fields every row shares."""
    return {"model": args.model, "task": args.task, "votes": args.votes, "verdict": args.verdict,
            "sampling": SamplingIn(seed=args.seed, max_tokens=args.max_tokens)}


async def judge_rows(client: AsyncJudgeClient, rows: list[Row], mode: str,
                     common: dict[str, Any]) -> tuple[list[Scores | None], dict[str, int]]:
    """Every row's completion scores, chosen first (pointwise: the judge's scores; pairwise: ½ for the chosen
    completion and 1 − p(chosen better) for each rejected one, so the chosen wins a comparison when p > ½), None
    for a Ties row in pairwise mode; a failed item's score is None."""
    found: list[Scores | None] = []
    usage = {"prompt_tokens": 0, "completion_tokens": 0, "engine_requests": 0}
    for row in rows:
        if mode == "pairwise" and row.subset == TIES:
            found.append(None)
            continue
        if mode == "pointwise":
            answer: Any = await client.score(ScoreRequest(**common, items=[
                ScoreItemIn(id=str(i), prompt=row.prompt, response=text) for i, text in enumerate(row.completions)]))
            found.append([item.score if item.status == "ok" else None for item in answer.items])
        else:
            answer = await client.compare(CompareRequest(**common, swap=True, items=[
                CompareItemIn(id=str(i), prompt=row.prompt, response_a=row.chosen[0], response_b=text)
                for i, text in enumerate(row.rejected)]))
            wins = [item.p_a if item.status == "ok" else None for item in answer.items]
            found.append([0.5, *[None if p is None else 1.0 - p for p in wins]])
        for key in usage:
            usage[key] += getattr(answer.usage, key)
    return found, usage


def render(report: dict[str, Any]) -> str:
    lines = [f"RewardBench 2, {report['rows']} rows, verdict {report['verdict']}, {report['votes']} vote(s)", ""]
    for mode, result in report["modes"].items():
        subsets = " | ".join(f"{name} {value:.3f}" for name, value in result["subsets"].items())
        overall = "-" if result["overall"] is None else f"{result['overall']:.3f}"
        lines += [f"{mode}: overall {overall} ({subsets}); failed {result['failed']}; "
                  f"{result['prompt_tokens'] + result['completion_tokens']} tokens; {result['wall_s']:.1f} s", ""]
    return "\n".join(lines)
