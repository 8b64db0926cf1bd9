"""Measure the judging path on this machine: engine start, a /v1/score batch vs the same work sent straight to
the engine, and parse failures with and without the grammar.

    .venv/bin/python loadtests/measure_judging_path.py [--items 16] [--votes 4] [--rounds 2]

Starts the gateway the way `make serve` does (`python -m service`, managed engine on a fixed port), builds the
direct requests with the same prompt builder, token ids, sampling and grammar as the service, and alternates
service and direct rounds after a warm-up so the engine's prefix cache favours neither. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

from genrm_client import JudgeClient, LocalGateway, ScoreItemIn, ScoreRequest, ScoreResponse  # noqa: E402
from loadtests.harness import ROOT, preference_rows  # noqa: E402
from models.bundled import prepare_bundled_model  # noqa: E402
from models.chat import ChatTemplate, to_conversation  # noqa: E402
from models.formats import POINTWISE, ParseFailure  # noqa: E402
from models.formats.framing import Framing  # noqa: E402
from models.rubrics import RubricLibrary  # noqa: E402

MODEL = "smollm2-135m-judge"


def load_items(count: int) -> list[dict[str, Any]]:
    return [{"id": r["id"], "prompt": r["prompt"], "response": r["chosen"]} for r in preference_rows(count)]


def direct_bodies(items: list[dict[str, Any]], votes: int, max_tokens: int, constrained: bool) -> list[dict[str, Any]]:
    template = ChatTemplate.from_directory(prepare_bundled_model(ROOT / ".cache" / "models"))
    rubrics = RubricLibrary.load(ROOT / "rubrics").primary("chat")
    bodies = []
    for item in items:
        messages = POINTWISE.build_messages("chat", rubrics, to_conversation(item["prompt"]), item["response"],
                                            Framing(template.special_tokens))
        body: dict[str, Any] = {"model": MODEL, "prompt": template.encode(template.render(messages)), "n": votes,
                                "max_tokens": POINTWISE.reasoning_tokens(max_tokens), "temperature": 0.8,
                                "top_p": 0.95}
        if constrained:
            body["structured_outputs"] = {"regex": POINTWISE.output_regex(max_tokens)}
        bodies.append(body)
    return bodies


async def run_direct(engine_url: str, bodies: list[dict[str, Any]]) -> tuple[float, int, list[str]]:
    async with httpx.AsyncClient(timeout=900) as client:
        started = time.perf_counter()
        answers = await asyncio.gather(*(client.post(f"{engine_url}/v1/completions", json=b) for b in bodies))
        elapsed = time.perf_counter() - started
    payloads = [answer.json() for answer in answers]
    texts = [choice["text"] for payload in payloads for choice in payload["choices"]]
    return elapsed, sum(p["usage"]["completion_tokens"] for p in payloads), texts


def run_service(client: JudgeClient, items: list[dict[str, Any]], votes: int) -> tuple[float, int, ScoreResponse]:
    request = ScoreRequest(task="chat", votes=votes, items=[ScoreItemIn.model_validate(item) for item in items])
    started = time.perf_counter()
    answer = client.score(request)
    elapsed = time.perf_counter() - started
    return elapsed, answer.usage.completion_tokens, answer


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=16)
    parser.add_argument("--votes", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument("--port", type=int, default=8031)
    parser.add_argument("--engine-port", type=int, default=8032)
    args = parser.parse_args()
    engine_url = f"http://127.0.0.1:{args.engine_port}"
    items = load_items(args.items)
    constrained = direct_bodies(items, args.votes, args.max_tokens, constrained=True)
    unconstrained = direct_bodies(items, args.votes, args.max_tokens, constrained=False)

    launched = time.perf_counter()
    models = [{"name": MODEL, "version": "bench", "sampling": {"max_tokens": args.max_tokens},
               "engines": [{"kind": "managed", "port": args.engine_port}]}]
    with LocalGateway(models, workdir=ROOT, port=args.port) as url, JudgeClient(url, timeout_s=900) as client:
        start_s = time.perf_counter() - launched  # the gateway returns once every engine is ready
        asyncio.run(run_direct(engine_url, constrained))  # warm-up: both paths now find the prefixes cached
        service_runs, direct_runs, service_failures = [], [], Counter[str]()
        for _ in range(args.rounds):
            elapsed, tokens, answer = run_service(client, items, args.votes)
            service_runs.append((elapsed, tokens))
            for item in answer.items:
                service_failures.update(item.parse_failures)
                if item.status != "ok":
                    service_failures[item.status] += 1
            elapsed, tokens, _ = asyncio.run(run_direct(engine_url, constrained))
            direct_runs.append((elapsed, tokens))
        _, _, raw_texts = asyncio.run(run_direct(engine_url, unconstrained))

    raw_failures = Counter(
        outcome.category.value for outcome in map(POINTWISE.parse, raw_texts) if isinstance(outcome, ParseFailure)
    )
    report(args, start_s, service_runs, direct_runs, service_failures, raw_failures, len(raw_texts))


def report(args: argparse.Namespace, start_s: float, service: list[tuple[float, int]],
           direct: list[tuple[float, int]], service_failures: Counter[str], raw_failures: Counter[str],
           raw_total: int) -> None:
    judgments = args.items * args.votes

    def row(name: str, runs: list[tuple[float, int]]) -> tuple[float, str]:
        seconds = statistics.fmean(r[0] for r in runs)
        tokens = statistics.fmean(r[1] for r in runs)
        line = (f"| {name} | {seconds:.1f} | {tokens:.0f} | {judgments / seconds:.2f} | {tokens / seconds:.1f} |")
        return seconds, line

    service_s, service_line = row("service `/v1/score`", service)
    direct_s, direct_line = row("engine direct (same token ids, n, grammar)", direct)
    print(f"\n{args.items} items x {args.votes} votes, max_tokens={args.max_tokens}, {args.rounds} rounds each, "
          f"machine: {os.cpu_count()} cores\n")
    print(f"gateway + engine start to ready: {start_s:.1f} s\n")
    print("| path | seconds | completion tokens | judgments/s | tokens/s |\n|---|---|---|---|---|")
    print(service_line)
    print(direct_line)
    print(f"\nservice/direct time ratio: {service_s / direct_s:.3f}")
    print(f"constrained parse failures through the service: {dict(service_failures) or 0} "
          f"of {judgments * args.rounds} judgments")
    print(f"unconstrained (no grammar) parse failures: {dict(raw_failures)} of {raw_total} judgments")


if __name__ == "__main__":
    main()
