"""OpenRLHF-style reward calls: one sample per call at trainer concurrency vs the same samples in one call.

    .venv/bin/python loadtests/bench_openrlhf.py [--samples 32] [--concurrency 16] [--rounds 2] [--max-tokens 128]

OpenRLHF posts `{"query": [one], "prompts": [one], "labels": [one]}` per rollout, many at once. Starts a local
gateway with the bundled judge (as `make serve`), then alternates, after a warm-up, the one-sample calls (at most
`--concurrency` in flight) and one call carrying every sample, both to `/v1/openrlhf/score`. Samples are unseeded
so neither path is answered from the judgment cache. Prints judgments/s for both and their ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

from genrm_client import LocalGateway  # noqa: E402
from loadtests.harness import ROOT, preference_rows  # noqa: E402
from models.bundled import prepare_bundled_model  # noqa: E402
from models.chat import ChatTemplate, as_turns, to_conversation  # noqa: E402

ROUTE = "/v1/openrlhf/score?task=chat"


def samples(count: int) -> list[tuple[str, str]]:
    """(prompt, query) pairs as OpenRLHF sends them: the chat-templated prompt, then prompt + response + EOS."""
    template = ChatTemplate.from_directory(prepare_bundled_model(ROOT / ".cache" / "models"))
    pairs = []
    for row in preference_rows(count):
        prompt = template.render(as_turns(to_conversation(row["prompt"])))
        pairs.append((prompt, prompt + row["chosen"] + "<|im_end|>"))
    return pairs


async def one_per_call(url: str, pairs: list[tuple[str, str]], concurrency: int) -> float:
    slots = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=900) as client:
        async def post(prompt: str, query: str) -> None:
            async with slots:
                response = await client.post(ROUTE, json={"query": [query], "prompts": [prompt], "labels": [""]})
                response.raise_for_status()

        started = time.perf_counter()
        await asyncio.gather(*(post(prompt, query) for prompt, query in pairs))
        return time.perf_counter() - started


async def one_call(url: str, pairs: list[tuple[str, str]]) -> float:
    async with httpx.AsyncClient(base_url=url, timeout=900) as client:
        started = time.perf_counter()
        response = await client.post(ROUTE, json={"query": [q for _, q in pairs], "prompts": [p for p, _ in pairs],
                                                  "labels": [""] * len(pairs)})
        response.raise_for_status()
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=32)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--port", type=int, default=8041)
    args = parser.parse_args()
    pairs = samples(args.samples)
    models = [{"name": "openrlhf-bench", "version": "bench", "sampling": {"max_tokens": args.max_tokens},
               "engines": [{"kind": "managed"}]}]
    with LocalGateway(models, workdir=ROOT, port=args.port) as url:
        asyncio.run(one_call(url, pairs))  # warm-up: the judge's shared prefixes are cached for both paths
        single, batched = [], []
        for _ in range(args.rounds):
            single.append(asyncio.run(one_per_call(url, pairs, args.concurrency)))
            batched.append(asyncio.run(one_call(url, pairs)))
    single_s, batched_s = statistics.fmean(single), statistics.fmean(batched)
    print(f"\n{args.samples} samples, 1 vote, max_tokens={args.max_tokens}, {args.rounds} rounds each, "
          f"machine: {os.cpu_count()} cores\n")
    print("| path | seconds | judgments/s |\n|---|---|---|")
    print(f"| one sample per call, {args.concurrency} in flight | {single_s:.1f} | {args.samples / single_s:.2f} |")
    print(f"| one call with all {args.samples} | {batched_s:.1f} | {args.samples / batched_s:.2f} |")
    print(f"\none-per-call / batched throughput: {batched_s / single_s:.3f}")


if __name__ == "__main__":
    main()
