"""`genrm eval steps`: measure a step judge on labelled solutions (`data/process-steps.jsonl`), by strategy.

    genrm eval steps DATA --out DIR [--url URL] [--strategy prefix,list] [--votes 1] [--max-tokens N] [--limit N]

Each strategy judges every solution through `POST /v1/steps` and gets the metrics of `evaluation.step_metrics`,
with what it cost: wall time, prompt and completion tokens, engine requests. Writes `DIR/steps.json` (metrics,
costs and every solution's verdicts) and `DIR/steps.md` (the table). Without `--url` the embedded default (the
bundled judge) is started for the run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from evaluation.step_judging import StepJudging, judge_steps
from genrm_client import AsyncJudgeClient, LocalGateway

USAGE_ERROR = 2
STRATEGIES = ("prefix", "list")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="genrm eval steps", description="Measure a step judge on solutions whose "
                                     "wrong steps are known.")
    parser.add_argument("data", type=Path, help="JSON Lines: prompt, solution, split, labels (per step)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--url", help="the service; omitted: start the embedded default for this run")
    parser.add_argument("--api-key", default=os.environ.get("GENRM_API_KEY"), help="default: $GENRM_API_KEY")
    parser.add_argument("--strategy", default="prefix,list", help="comma-separated: prefix, list")
    parser.add_argument("--votes", type=int, default=1)
    parser.add_argument("--max-tokens", type=int, help="tokens per judgment (default: the model's setting)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, help="only the first N solutions")
    parser.add_argument("--batch", type=int, default=4, help="solutions per request (default 4)")
    parser.add_argument("--concurrency", type=int, default=2, help="requests in flight (default 2)")
    parser.add_argument("--model", help="judge model name (default: the service's default)")
    parser.add_argument("--workdir", type=Path, default=Path.cwd())
    return parser


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    strategies = [part.strip() for part in args.strategy.split(",") if part.strip()]
    if not strategies or any(strategy not in STRATEGIES for strategy in strategies):
        print(f"genrm eval steps: --strategy takes {', '.join(STRATEGIES)}, comma-separated", file=sys.stderr)
        return USAGE_ERROR
    if not args.data.is_file():
        print(f"genrm eval steps: no such file: {args.data}", file=sys.stderr)
        return USAGE_ERROR
    rows = [json.loads(line) for line in args.data.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = rows[:args.limit] if args.limit else rows
    with ExitStack() as stack:
        url = args.url or stack.enter_context(LocalGateway(workdir=args.workdir))
        results = {strategy: asyncio.run(_judge(args, url, rows, strategy)) for strategy in strategies}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "steps.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    table = render(results, len(rows))
    (args.out / "steps.md").write_text(table, encoding="utf-8")
    print(table)
    return 0


async def _judge(args: argparse.Namespace, url: str, rows: list[dict[str, Any]], strategy: str) -> dict[str, Any]:
    settings = StepJudging(strategy=strategy, votes=args.votes, seed=args.seed, max_tokens=args.max_tokens,
                           model=args.model, batch=args.batch, concurrency=args.concurrency)
    async with AsyncJudgeClient(url, api_key=args.api_key) as client:
        run = await judge_steps(client, rows, settings)
    return run.as_dict()


def render(results: dict[str, dict[str, Any]], solutions: int) -> str:
    lines = [f"Step judge on {solutions} solutions", "",
             "| strategy | F1 (first error) | error acc. | correct acc. | step F1 | failed | prompt tokens | "
             "completion tokens | engine requests | wall s |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for strategy, result in results.items():
        m, u = result["metrics"], result["usage"]
        lines.append(f"| {strategy} | {m['f1']:.3f} | {m['error_accuracy']:.3f} | {m['correct_accuracy']:.3f} | "
                     f"{m['step_f1']:.3f} | {m['failed']} | {u['prompt_tokens']} | {u['completion_tokens']} | "
                     f"{u['engine_requests']} | {result['wall_s']:.1f} |")
    return "\n".join(lines) + "\n"
