"""What step judging costs and how well it finds the first error: the labelled process set
(`data/process-steps.jsonl`) through `POST /v1/steps`, by step prefix and by step list, on one managed engine.

    .venv/bin/python loadtests/measure_steps.py [--limit 64] [--votes 1] [--max-tokens 256] [--model-path DIR]

For each strategy: the metrics of `evaluation.step_metrics`, wall time, engine requests, and the prompt tokens
the engine computed versus those its prefix cache served (vLLM's own `vllm:prompt_tokens_total` and
`vllm:prompt_tokens_cached_total`), so the prefix cache's share in per-step judging is measured, not assumed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

from genrm_client import LocalGateway  # noqa: E402
from loadtests.harness import ROOT, prompt_tokens  # noqa: E402

ENGINE_PORT = 8431
PROCESS_FILE = ROOT / "data" / "process-steps.jsonl"



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=64)
    parser.add_argument("--votes", type=int, default=1)
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument("--strategies", default="prefix,list")
    parser.add_argument("--model-path", help="a converted judge model directory (default: the bundled judge)")
    args = parser.parse_args()
    engine = f"http://127.0.0.1:{ENGINE_PORT}"
    judge = {"model_path": args.model_path} if args.model_path else {}
    models = [{"name": "steps-judge", "version": "measured", "engines": [{"kind": "managed", "port": ENGINE_PORT}],
               **judge}]
    lines = []
    with LocalGateway(models, workdir=ROOT) as url, tempfile.TemporaryDirectory() as out:
        for strategy in args.strategies.split(","):
            computed_before, cached_before = prompt_tokens(engine)
            # `genrm eval steps` judges and scores (evaluation/ is its own layer: run, not imported).
            subprocess.run([sys.executable, "-m", "evaluation", "eval", "steps", str(PROCESS_FILE), "--out", out,
                            "--url", url, "--strategy", strategy, "--votes", str(args.votes),
                            "--max-tokens", str(args.max_tokens), "--limit", str(args.limit)],
                           cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
            computed_after, cached_after = prompt_tokens(engine)
            computed, cached = computed_after - computed_before, cached_after - cached_before
            result = json.loads((Path(out) / "steps.json").read_text(encoding="utf-8"))[strategy]
            m, usage = result["metrics"], result["usage"]
            lines.append(f"| {strategy} | {m['f1']:.3f} | {m['error_accuracy']:.3f} | {m['correct_accuracy']:.3f} | "
                         f"{m['step_f1']:.3f} | {m['failed']} | {usage['engine_requests']} | {computed:.0f} | "
                         f"{cached:.0f} | {cached / max(computed + cached, 1):.2f} | {result['wall_s']:.1f} |")
    print(f"\n{args.model_path or 'bundled judge'}: {args.limit} solutions, {args.votes} vote(s), "
          f"max_tokens={args.max_tokens}; machine: "
          f"{platform.node()}, {os.cpu_count()} cores\n")
    print("| strategy | F1 (first error) | error acc. | correct acc. | step F1 | failed | engine requests | "
          "prompt tokens computed | served from the prefix cache | cached share | wall s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
