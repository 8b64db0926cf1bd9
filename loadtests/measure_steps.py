"""What step judging costs and how well it finds the first error: the labelled process set
(`data/process-steps.jsonl`) through `POST /v1/steps`, by step prefix and by step list, on one managed engine.

    .venv/bin/python loadtests/measure_steps.py [--limit 64] [--votes 1] [--max-tokens 256]

For each strategy: the metrics of `evaluation.step_metrics`, wall time, engine requests, and the prompt tokens
the engine computed versus those its prefix cache served (vLLM's own `vllm:prompt_tokens_total` and
`vllm:prompt_tokens_cached_total`), so the prefix cache's share in per-step judging is measured, not assumed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

from evaluation.process_set import PROCESS_FILE  # noqa: E402
from evaluation.step_judging import StepJudging, StepRun, judge_steps  # noqa: E402
from genrm_client import AsyncJudgeClient, LocalGateway  # noqa: E402
from loadtests.harness import ROOT, engine_metric  # noqa: E402

ENGINE_PORT = 8431


def prompt_tokens(engine: str) -> tuple[float, float]:
    """(computed, cached) prompt tokens so far."""
    total = engine_metric(engine, "vllm:prompt_tokens_total")
    cached = engine_metric(engine, "vllm:prompt_tokens_cached_total")
    return total - cached, cached


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=64)
    parser.add_argument("--votes", type=int, default=1)
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument("--strategies", default="prefix,list")
    args = parser.parse_args()
    rows = [json.loads(line) for line in PROCESS_FILE.read_text(encoding="utf-8").splitlines()][:args.limit]
    engine = f"http://127.0.0.1:{ENGINE_PORT}"
    models = [{"name": "steps-judge", "version": "bundled", "engines": [{"kind": "managed", "port": ENGINE_PORT}]}]
    lines = []
    with LocalGateway(models, workdir=ROOT) as url:
        for strategy in args.strategies.split(","):
            settings = StepJudging(strategy=strategy, votes=args.votes, max_tokens=args.max_tokens)
            computed_before, cached_before = prompt_tokens(engine)

            async def run(judging: StepJudging = settings) -> StepRun:
                async with AsyncJudgeClient(url) as client:
                    return await judge_steps(client, rows, judging)

            result = asyncio.run(run())
            computed_after, cached_after = prompt_tokens(engine)
            computed, cached = computed_after - computed_before, cached_after - cached_before
            m = result.scores
            lines.append(f"| {strategy} | {m.f1:.3f} | {m.error_accuracy:.3f} | {m.correct_accuracy:.3f} | "
                         f"{m.step_f1:.3f} | {m.failed} | {result.usage['engine_requests']} | "
                         f"{computed:.0f} | {cached:.0f} | {cached / max(computed + cached, 1):.2f} | "
                         f"{result.wall_s:.1f} |")
    print(f"\n{len(rows)} solutions, {args.votes} vote(s), max_tokens={args.max_tokens}; machine: "
          f"{platform.node()}, {os.cpu_count()} cores\n")
    print("| strategy | F1 (first error) | error acc. | correct acc. | step F1 | failed | engine requests | "
          "prompt tokens computed | served from the prefix cache | cached share | wall s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
