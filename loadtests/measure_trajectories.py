"""What per-turn judging of agent trajectories costs against one judgment of the whole trace: the trajectory set
(`data/agent-trajectories.jsonl`) through `POST /v1/trajectories` on one managed engine, in three settings.

    .venv/bin/python loadtests/measure_trajectories.py [--limit 36] [--max-tokens 256] [--model-path DIR]

- `trace`: one judgment per trajectory (`view: trace`, `turns: none`);
- `trace+turns`: the trace and every assistant turn with the history before it (`turns: all`);
- `last+turns`: `view: last`, `turns: all` (the last turn's judgment is the view's: judged once).

Each setting is one request holding every trajectory (as a trainer's reward call sends a batch), with the
judgment cache off. For each: wall time, engine requests, and the prompt tokens the engine computed versus those
its prefix cache served (vLLM's `vllm:prompt_tokens_total` and `vllm:prompt_tokens_cached_total`), so the cache's
share in per-turn judging is measured. The settings run one after another on one engine, so a later one may find
prefixes an earlier one left in the cache (the table gives the run order).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

from genrm_client import JudgeClient, LocalGateway, TrajectoryRequest  # noqa: E402
from loadtests.harness import ROOT, prompt_tokens  # noqa: E402

ENGINE_PORT = 8432
TRAJECTORY_FILE = ROOT / "data" / "agent-trajectories.jsonl"
SETTINGS: dict[str, dict[str, str]] = {
    "trace": {"view": "trace", "turns": "none"},
    "trace+turns": {"view": "trace", "turns": "all"},
    "last+turns": {"view": "last", "turns": "all"},
}



def measure(judge: JudgeClient, engine: str, rows: list[dict[str, Any]], setting: dict[str, str],
            max_tokens: int) -> dict[str, float]:
    computed_before, cached_before = prompt_tokens(engine)
    started = time.perf_counter()
    answer = judge.trajectories(TrajectoryRequest.model_validate({  # one batch, as a trainer's reward call sends
        "sampling": {"max_tokens": max_tokens}, "cache": False,
        "items": [{"id": str(index), "prompt": row["prompt"], "trajectory": row["trajectory"], **setting}
                  for index, row in enumerate(rows)]}))
    requests = answer.usage.engine_requests
    failed = sum(1 for item in answer.items if item.status != "ok")
    wall = time.perf_counter() - started
    computed_after, cached_after = prompt_tokens(engine)
    return {"wall_s": wall, "requests": requests, "failed": failed,
            "computed": computed_after - computed_before, "cached": cached_after - cached_before}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=36)
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument("--model-path", help="a converted judge model directory (default: the bundled judge)")
    parser.add_argument("--settings", default=",".join(SETTINGS), help=f"of {', '.join(SETTINGS)}")
    args = parser.parse_args()
    rows = [json.loads(line) for line in TRAJECTORY_FILE.read_text(encoding="utf-8").splitlines()][:args.limit]
    engine = f"http://127.0.0.1:{ENGINE_PORT}"
    judge_model = {"model_path": args.model_path} if args.model_path else {}
    models = [{"name": "trajectory-judge", "version": "measured",
               "engines": [{"kind": "managed", "port": ENGINE_PORT}], **judge_model}]
    lines = []
    with LocalGateway(models, workdir=ROOT) as url, JudgeClient(url, timeout_s=3600) as judge:
        for name in args.settings.split(","):
            found = measure(judge, engine, rows, SETTINGS[name], args.max_tokens)
            share = found["cached"] / max(found["computed"] + found["cached"], 1)
            lines.append(f"| {name} | {found['requests']:.0f} | {found['failed']:.0f} | {found['computed']:.0f} | "
                         f"{found['cached']:.0f} | {share:.2f} | {found['wall_s']:.1f} |")
    turns = sum(1 for row in rows for message in row["trajectory"] if message["role"] == "assistant")
    print(f"\n{args.model_path or 'bundled judge'}: {len(rows)} trajectories, {turns} assistant turns, "
          f"max_tokens={args.max_tokens}, judgment cache off; machine: {platform.node()}, {os.cpu_count()} cores\n")
    print("| setting (in run order) | engine requests | failed | prompt tokens computed | served from the prefix "
          "cache | cached share | wall s |")
    print("|---|---|---|---|---|---|---|")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
