"""`genrm eval trajectories`: measure a trajectory judge on traces whose quality is known
(`data/agent-trajectories.jsonl`).

    genrm eval trajectories DATA --out DIR [--url URL] [--votes 1] [--view trace]

Metrics: `pair_accuracy`, over every (good, bad) pair of the same task, the share where the good trace scores
higher (a tie counts one half; 0.5 is chance); `mean_good` and `mean_bad` scores; per bad `kind`, the share of its
pairs won by the good trace. Writes `DIR/trajectories.json` and `DIR/trajectories.md`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from genrm_client import AsyncJudgeClient, LocalGateway, TrajectoryRequest

USAGE_ERROR = 2


def pair_accuracy(rows: Sequence[dict[str, Any]], scores: Sequence[float | None]) -> dict[str, Any]:
    """Good-versus-bad pairs within each task; a failed score loses its pairs (it counts as a miss)."""
    by_task: dict[str, dict[str, list[tuple[str, float | None]]]] = defaultdict(lambda: defaultdict(list))
    for row, score in zip(rows, scores, strict=True):
        by_task[row["task_id"]][row["label"]].append((row["kind"], score))
    won: dict[str, list[float]] = defaultdict(list)
    for labelled in by_task.values():
        for _, good_score in labelled["good"]:
            for kind, bad_score in labelled["bad"]:
                won[kind].append(0.0 if good_score is None else 1.0 if bad_score is None or good_score > bad_score
                                 else 0.5 if good_score == bad_score else 0.0)
    every = [value for values in won.values() for value in values]
    good = [s for row, s in zip(rows, scores, strict=True) if row["label"] == "good" and s is not None]
    bad = [s for row, s in zip(rows, scores, strict=True) if row["label"] == "bad" and s is not None]
    return {"pair_accuracy": sum(every) / len(every) if every else 0.0, "pairs": len(every),
            "by_kind": {kind: sum(values) / len(values) for kind, values in sorted(won.items())},
            "mean_good": sum(good) / len(good) if good else None, "mean_bad": sum(bad) / len(bad) if bad else None,
            "failed": sum(score is None for score in scores)}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="genrm eval trajectories", description="Measure a trajectory judge on "
                                     "traces whose quality is known.")
    parser.add_argument("data", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--url", help="the service; omitted: start the embedded default for this run")
    parser.add_argument("--api-key", default=os.environ.get("GENRM_API_KEY"))
    parser.add_argument("--votes", type=int, default=1)
    parser.add_argument("--view", choices=("trace", "last"), default="trace")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-tokens", type=int)
    parser.add_argument("--model")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--workdir", type=Path, default=Path.cwd())
    return parser


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    if not args.data.is_file():
        print(f"genrm eval trajectories: no such file: {args.data}", file=sys.stderr)
        return USAGE_ERROR
    rows = [json.loads(line) for line in args.data.read_text(encoding="utf-8").splitlines() if line.strip()]
    with ExitStack() as stack:
        url = args.url or stack.enter_context(LocalGateway(workdir=args.workdir))
        started = time.monotonic()
        scores = asyncio.run(_judge(args, url, rows))
        wall_s = time.monotonic() - started
    result = {**pair_accuracy(rows, scores), "wall_s": round(wall_s, 2), "view": args.view, "votes": args.votes,
              "scores": scores}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "trajectories.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    table = render(result, len(rows))
    (args.out / "trajectories.md").write_text(table, encoding="utf-8")
    print(table)
    return 0


async def _judge(args: argparse.Namespace, url: str, rows: list[dict[str, Any]]) -> list[float | None]:
    scores: list[float | None] = []
    async with AsyncJudgeClient(url, api_key=args.api_key) as client:
        for start in range(0, len(rows), args.batch):
            batch = rows[start:start + args.batch]
            body = {"votes": args.votes, "model": args.model, "sampling": {"seed": args.seed,
                                                                           "max_tokens": args.max_tokens},
                    "items": [{"prompt": row["prompt"], "trajectory": row["trajectory"], "view": args.view}
                              for row in batch]}
            answer = await client.trajectories(TrajectoryRequest.model_validate(body))
            scores += [item.score if item.status == "ok" else None for item in answer.items]
    return scores


def render(result: dict[str, Any], traces: int) -> str:
    kinds = " | ".join(f"{kind} {value:.2f}" for kind, value in result["by_kind"].items())
    return (f"Trajectory judge on {traces} traces ({result['pairs']} good-vs-bad pairs), view {result['view']}, "
            f"{result['votes']} vote(s)\n\n| pair accuracy | mean good | mean bad | failed | wall s |\n"
            f"|---|---|---|---|---|\n| {result['pair_accuracy']:.3f} | {_mean(result['mean_good'])} | "
            f"{_mean(result['mean_bad'])} "
            f"| {result['failed']} | {result['wall_s']:.1f} |\n\nBy kind of bad trace (share of pairs the good one "
            f"won): {kinds}\n")


def _mean(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"
