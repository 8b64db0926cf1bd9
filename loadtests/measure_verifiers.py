"""Verifiable rewards measured on the labelled set (`data/verifiable-*.jsonl`), through a real gateway on the
bundled judge: the verifier alone, the judge alone, and verify-then-judge; then verifier throughput.

    .venv/bin/python loadtests/measure_verifiers.py                      # everything below
    .venv/bin/python loadtests/measure_verifiers.py --skip-judge         # rules and throughput only (no engine)

For each policy on the 240 math items: accuracy (an item is called correct when its score is at least 5), false
negatives rescued and false positives introduced (against the verifier alone), the share the judge decided, and
items/s (wall time of the one request). The code items are checked by the `code` verifier in the sandbox.
Throughput: requests of `--batch` items (default 1,024) for `exact` and `math` on simple answers, rules only; and
the verifier's share of a judged request's time (every item escalated), from `genrm_verifier_seconds`.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import sys
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

from genrm_client import LocalGateway  # noqa: E402
from loadtests.harness import ROOT  # noqa: E402

MATH = ROOT / "data" / "verifiable-math.jsonl"
CODE = ROOT / "data" / "verifiable-code.jsonl"
Row = dict[str, Any]


def rows(path: Path) -> list[Row]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def score(http: httpx.Client, items: list[Row], verify: dict[str, Any], votes: int,
          max_tokens: int) -> tuple[list[Row], float]:
    body = {"task": "math", "votes": votes, "dedup": False, "cache": False, "verify": verify,
            "sampling": {"max_tokens": max_tokens, "seed": 7},
            "items": [{"id": r["id"], "prompt": r["problem"], "response": r["response"], "reference": r["reference"]}
                      for r in items]}
    started = time.perf_counter()
    response = http.post("/v1/score", json=body)
    seconds = time.perf_counter() - started
    response.raise_for_status()
    return response.json()["items"], seconds


def judged_correct(item: Row) -> bool | None:
    return None if item["status"] != "ok" else item["score"] >= 5


def summarize(labelled: list[Row], answered: list[Row], seconds: float, rules: list[bool]) -> Row:
    calls = [judged_correct(item) for item in answered]
    truth = [row["correct"] for row in labelled]
    return {
        "accuracy": sum(call == label for call, label in zip(calls, truth, strict=True)) / len(truth),
        "rescued": sum(call and label and not rule for call, label, rule in zip(calls, truth, rules, strict=True)),
        "introduced": sum(call and not label and not rule for call, label, rule in zip(calls, truth, rules,
                                                                                       strict=True)),
        "failed": sum(call is None for call in calls),
        "judge_share": sum(item.get("decided_by") in ("judge", "both") for item in answered) / len(answered),
        "items_per_s": len(answered) / seconds, "seconds": seconds,
    }


def metric_sum(http: httpx.Client, name: str) -> float:
    pattern = re.compile(rf"^{name}\{{[^}}]*\}} ([0-9.e+-]+)$")
    return sum(float(m.group(1)) for line in http.get("/metrics").text.splitlines() if (m := pattern.match(line)))


def throughput(http: httpx.Client, verifier: str, batch: int, symbolic: bool = False) -> float:
    """Best of three `batch`-item requests, rules only, each with answers not seen before (the verifier caches
    parses). `symbolic`: each answer is a fraction and its reference a decimal, so math-verify parses and compares
    both (no string shortcut)."""
    def body(offset: int) -> dict[str, Any]:
        numbers = range(offset, offset + batch)
        items = [{"prompt": "p", "response": f"The answer is \\boxed{{{i}}}.", "reference": str(i)} for i in numbers]
        if symbolic:
            items = [{"prompt": "p", "response": f"So \\boxed{{\\frac{{{i}}}{{4}}}}.", "reference": str(i / 4)}
                     for i in numbers]
        return {"task": "math", "verify": {"verifier": verifier, "policy": "verifier"}, "items": items}

    best = 0.0
    for round_ in range(1, 4):
        started = time.perf_counter()
        http.post("/v1/score", json=body(round_ * 10 * batch)).raise_for_status()
        best = max(best, batch / (time.perf_counter() - started))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--votes", type=int, default=1)
    parser.add_argument("--max-tokens", type=int, default=192)
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--skip-judge", action="store_true")
    parser.add_argument("--model-path", type=Path, default=None,
                        help="A converted Hugging Face model directory to judge with instead of the bundled one.")
    parser.add_argument("--judge-every", type=int, default=1,
                        help="Judge-asking policies on every N-th problem only (all 6 responses of each): for slow "
                        "judges. Verifier rows always use the whole set.")
    parser.add_argument("--port", type=int, default=8052)
    args = parser.parse_args()
    math_rows, code_rows = rows(MATH), rows(CODE)
    models = [{"name": "judge", "version": "bench", "request_timeout_s": 7200,
               "sampling": {"max_tokens": args.max_tokens},
               **({"model_path": str(args.model_path)} if args.model_path else {})}]
    sampled = [r for r in math_rows if (math_rows.index(r) // 6) % args.judge_every == 0]
    results: dict[str, Row] = {}
    with LocalGateway(models, workdir=ROOT, port=args.port) as url, \
            httpx.Client(base_url=url, timeout=7200) as http:
        score(http, math_rows[:1], {"verifier": "math", "policy": "verifier"}, 1, args.max_tokens)  # start workers
        alone, seconds = score(http, math_rows, {"verifier": "math", "policy": "verifier"}, 1, args.max_tokens)
        rules = [judged_correct(item) is True for item in alone]
        results["verifier"] = summarize(math_rows, alone, seconds, rules)
        if not args.skip_judge:
            for name, verify in (("verify_then_judge (default: no_answer, timeout)", {"verifier": "math"}),
                                 ("verify_then_judge (+ incorrect)", {"verifier": "math", "escalate_on": [
                                     "no_answer", "incorrect", "timeout"]}),
                                 ("judge", {"verifier": "math", "policy": "judge"})):
                verified_before = metric_sum(http, "genrm_verifier_seconds_sum")
                answered, seconds = score(http, sampled, verify, args.votes, args.max_tokens)
                rules_here = [rule for row, rule in zip(math_rows, rules, strict=True) if row in sampled]
                results[name] = summarize(sampled, answered, seconds, rules_here)
                results[name]["verifier_share"] = (metric_sum(http, "genrm_verifier_seconds_sum")
                                                   - verified_before) / seconds
        code, seconds = score(http, code_rows, {"verifier": "code", "policy": "verifier", "timeout_s": 3}, 1,
                              args.max_tokens)
        results["code verifier"] = summarize(code_rows, code, seconds, [judged_correct(item) is True for item in code])
        rates = {"exact": throughput(http, "exact", args.batch), "math": throughput(http, "math", args.batch),
                 "math (fractions vs decimals)": throughput(http, "math", args.batch, symbolic=True)}
    judge = args.model_path.name if args.model_path else "bundled judge"
    print(f"\nverifiable set: {len(math_rows)} math items ({sum(r['correct'] for r in math_rows)} correct), "
          f"{len(code_rows)} code items; {judge}, votes={args.votes}, max_tokens={args.max_tokens}, judge rows on "
          f"{len(sampled)} items; machine: {platform.node()}\n")
    print("| policy | accuracy | false negatives rescued | false positives introduced | failed | judge decided | "
          "items/s | verifier share of time |\n|---|---|---|---|---|---|---|---|")
    for name, r in results.items():
        share = f"{r['verifier_share']:.1%}" if "verifier_share" in r else "-"
        print(f"| {name} | {r['accuracy']:.3f} | {r['rescued']} | {r['introduced']} | {r['failed']} | "
              f"{r['judge_share']:.0%} | {r['items_per_s']:.1f} | {share} |")
    print(f"\nrules only, {args.batch}-item requests over HTTP: " +
          ", ".join(f"{name} {rate:.0f} items/s" for name, rate in rates.items()))
    print(" ".join(f"{name.replace(' ', '_')}:acc={r['accuracy']:.3f},rescued={r['rescued']},"
                   f"introduced={r['introduced']},ips={r['items_per_s']:.1f}" for name, r in results.items())
          + " " + " ".join(f"{name.split()[0]}{'_symbolic' if '(' in name else ''}_ips={rate:.0f}"
                           for name, rate in rates.items()))


if __name__ == "__main__":
    main()
