"""Judging throughput: the same workload sent straight to vLLM, through the service, and by a naive client.

    .venv/bin/python loadtests/bench_judging.py --quick        # CPU-sized, a few minutes, bundled model
    .venv/bin/python loadtests/bench_judging.py --external-engine http://gpu:8001 --model-path /models/x \\
        --served-name x --items 256 --pairs 0 --votes 4 --max-tokens 512   # a GPU engine you started
    bash loadtests/gpu_bench.sh      # a GPU machine: Qwen3-8B-shaped dummy weights, 1k-token inputs

Workload: `items` pointwise items × `votes`, and `pairs` pairs × `votes` × both orders, with the judge's grammar
(so output lengths are bounded by `max_tokens`). Paths, each timed separately after a warm-up:
  one-request    one engine request per prompt of the whole budget, no forced ending: what judging would cost if
                 budget forcing were free (a judgment cut there has no verdict); the reference for forcing's cost
  raw            the best hand-written client doing the service's work: the service's exact token ids, `n` =
                 votes, everything concurrent, and each cut judgment completed by hand with a second request
                 (the forced ending, as the gateway's `second_request` mode does it)
  service        one /v1/score and one /v1/compare request through `genrm_client.AsyncJudgeClient`; the engine
                 writes forced endings itself (`forced_ending: in_engine`, the default with managed engines)
  service-2nd    the same, forced endings by a second request (`forced_ending: second_request`; same engine)
  service-small  one HTTP request per item or pair, all concurrent (how OpenRLHF calls a reward server)
  naive          one engine request per vote (no `n`), the two orders one after the other, no forced endings
Then: the prefill cost of n = 8 votes against n = 1 (from the engine's own prompt-token counters), and
adaptive against fixed voting. The last line holds the judgments/s ratios: `gateway=<service-2nd/raw>` (equal
work), `forcing_in_engine=<service/one-request>` and `forcing_second_request=<service-2nd/one-request>` (what
forcing costs), `service/naive=<y>`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

from genrm_client import (  # noqa: E402
    AsyncJudgeClient,
    CompareItemIn,
    CompareRequest,
    CompareResponse,
    JudgeClient,
    LocalGateway,
    SamplingIn,
    ScoreItemIn,
    ScoreRequest,
    ScoreResponse,
)
from genrm_wire import AdaptiveIn  # noqa: E402
from loadtests.harness import ROOT, engine_metric, preference_rows  # noqa: E402
from models.bundled import prepare_bundled_model  # noqa: E402
from models.chat import ChatMessage, ChatTemplate, to_conversation  # noqa: E402
from models.formats import PAIRWISE, POINTWISE  # noqa: E402
from models.formats.framing import Framing  # noqa: E402
from models.formats.sections import SectionedFormat  # noqa: E402
from models.rubrics import RubricLibrary  # noqa: E402

MODEL = "bench-judge"
TIMEOUT_S = 1800.0
TIMEOUT = httpx.Timeout(TIMEOUT_S)


PATHS = {
    "one-request": "one request per prompt, no forced ending (reference)",
    "raw": "raw (direct to vLLM, endings by hand)",
    "service": "service, one request per route (ending in the engine)",
    "service-2nd": "service, one request per route (ending by a second request)",
    "service-small": "service, one request per item",
    "naive": "naive (n=1 per vote, serial orders)",
}
SECOND_REQUEST_MODEL = f"{MODEL}-second-request"


@dataclass
class Run:
    key: str
    seconds: float = 0.0
    judgments: int = 0
    completion_tokens: int = 0

    @property
    def rate(self) -> float:
        return self.judgments / self.seconds

    def row(self) -> str:
        return (f"| {PATHS[self.key]} | {self.seconds:.1f} | {self.judgments} | {self.rate:.2f} | "
                f"{self.completion_tokens / self.seconds:.1f} |")


class Workload:
    """The items and pairs, and the exact engine requests the service sends for them."""

    def __init__(self, args: argparse.Namespace, template: ChatTemplate, served_name: str) -> None:
        rows = preference_rows(args.items + args.pairs)

        def sized(text: str) -> str:
            return padded(text, template, args.input_tokens) if args.input_tokens else text

        self.items = [{"id": r["id"], "prompt": r["prompt"], "response": sized(r["chosen"])}
                      for r in rows[: args.items]]
        self.pairs = [{"id": r["id"], "prompt": r["prompt"], "response_a": sized(r["chosen"]),
                       "response_b": sized(r["rejected"])} for r in rows[args.items:]]
        self.votes, self.max_tokens, self.served_name = args.votes, args.max_tokens, served_name
        self.template = template
        self.rubrics = RubricLibrary.load(ROOT / "rubrics").primary("chat")
        self.judgments = len(self.items) * self.votes + len(self.pairs) * self.votes * 2

    def count(self, text: str) -> int:
        return len(self.template.encode_literal(text))

    def body(self, messages: list[ChatMessage], judge_format: SectionedFormat, n: int,
             reserve: bool = True) -> dict[str, Any]:
        """What the service's `second_request` mode sends first: the format's grammar, the budget less the forced
        ending's reserve (counted with the judge's tokenizer); `reserve=False`: the whole budget."""
        ids = self.template.encode(self.template.render(messages))
        budget = judge_format.reasoning_tokens(self.max_tokens, self.count) if reserve else self.max_tokens
        return {"model": self.served_name, "prompt": ids, "n": n, "max_tokens": budget, "temperature": 0.8,
                "top_p": 0.95, "structured_outputs": {"regex": judge_format.output_regex(self.max_tokens, self.count)}}

    def pointwise(self, item: dict[str, Any], n: int, reserve: bool = True) -> dict[str, Any]:
        messages = POINTWISE.build_messages("chat", self.rubrics, to_conversation(item["prompt"]), item["response"],
                                            Framing(self.template.special_tokens))
        return self.body(messages, POINTWISE, n, reserve)

    def pairwise(self, pair: dict[str, Any], order: str, n: int, reserve: bool = True) -> dict[str, Any]:
        first, second = (pair["response_a"], pair["response_b"])[:: 1 if order == "ab" else -1]
        messages = PAIRWISE.build_messages("chat", self.rubrics, to_conversation(pair["prompt"]), first, second,
                                           Framing(self.template.special_tokens))
        return self.body(messages, PAIRWISE, n, reserve)

    def every_body(self, reserve: bool) -> list[tuple[dict[str, Any], SectionedFormat]]:
        bodies = [(self.pointwise(item, self.votes, reserve), POINTWISE) for item in self.items]
        return bodies + [(self.pairwise(pair, order, self.votes, reserve), PAIRWISE)
                         for pair in self.pairs for order in ("ab", "ba")]

    def ending(self, body: dict[str, Any], judge_format: SectionedFormat, text: str) -> dict[str, Any] | None:
        """The second request that completes a cut judgment, as the gateway writes it (service/judging/forcing.py)."""
        ending = judge_format.forced_ending(text)
        if ending is None:
            return None
        prompt = [*body["prompt"], *self.template.encode_literal(ending.kept),
                  *self.template.encode_literal(ending.written)]
        return {**body, "prompt": prompt, "n": 1, "max_tokens": judge_format.answer_tokens(),
                "structured_outputs": {"regex": ending.regex}}


def padded(text: str, template: ChatTemplate, tokens: int) -> str:
    """`text` repeated to exactly `tokens` tokens: a long response of realistic text, for GPU-sized inputs."""
    ids: list[int] = []
    while len(ids) < tokens:
        ids += template.encode(text + "\n")
    return template.decode(ids[:tokens])


async def post_all(client: httpx.AsyncClient, url: str, bodies: list[dict[str, Any]]) -> int:
    """POST every body concurrently; return the completion tokens the engine reports."""
    answers = await asyncio.gather(*(client.post(url, json=body) for body in bodies))
    for answer in answers:
        answer.raise_for_status()
    return sum(int(a.json()["usage"]["completion_tokens"]) for a in answers)


async def one_request(work: Workload, engine: str) -> int:
    async with httpx.AsyncClient(timeout=TIMEOUT) as client:
        return await post_all(client, f"{engine}/v1/completions", [b for b, _ in work.every_body(reserve=False)])


async def raw(work: Workload, engine: str) -> int:
    """Every first request concurrently; each cut sample completed by its own second request as soon as its first
    request answers, as the gateway does."""
    url = f"{engine}/v1/completions"
    async with httpx.AsyncClient(timeout=TIMEOUT) as client:

        async def judged(body: dict[str, Any], judge_format: SectionedFormat) -> int:
            answer = await client.post(url, json=body)
            answer.raise_for_status()
            payload = answer.json()
            endings = [work.ending(body, judge_format, choice["text"]) for choice in payload["choices"]
                       if choice["finish_reason"] == "length"]
            finished = await post_all(client, url, [e for e in endings if e is not None])
            return int(payload["usage"]["completion_tokens"]) + finished

        return sum(await asyncio.gather(*(judged(body, f) for body, f in work.every_body(reserve=True))))


async def naive(work: Workload, engine: str) -> int:
    async with httpx.AsyncClient(timeout=TIMEOUT) as client:
        url = f"{engine}/v1/completions"

        async def one_pair(pair: dict[str, Any]) -> int:
            tokens = 0
            for order in ("ab", "ba"):  # serial orders
                tokens += await post_all(client, url, [work.pairwise(pair, order, 1)] * work.votes)
            return tokens

        singles = [work.pointwise(item, 1) for item in work.items for _ in range(work.votes)]
        counts = await asyncio.gather(post_all(client, url, singles), *(one_pair(p) for p in work.pairs))
        return sum(counts)


async def service(work: Workload, gateway: str, per_item: bool, model: str = MODEL) -> int:
    """Through the project's client (`genrm_client.AsyncJudgeClient`), as a trainer calls the service."""
    common: dict[str, Any] = {"model": model, "task": "chat", "votes": work.votes, "dedup": False, "cache": False,
                              "sampling": SamplingIn(max_tokens=work.max_tokens)}
    items = [ScoreItemIn.model_validate(item) for item in work.items]
    pairs = [CompareItemIn.model_validate(pair) for pair in work.pairs]
    score_batches = [[item] for item in items] if per_item else [items]
    compare_batches = [[pair] for pair in pairs] if per_item else [pairs]
    async with AsyncJudgeClient(gateway, timeout_s=TIMEOUT_S) as client:
        scored, compared = await asyncio.gather(
            asyncio.gather(*(client.score(ScoreRequest(**common, items=batch)) for batch in score_batches if batch)),
            asyncio.gather(*(client.compare(CompareRequest(**common, items=batch))
                             for batch in compare_batches if batch)),
        )
    answers: list[ScoreResponse | CompareResponse] = [*scored, *compared]
    for answer in answers:
        failed = [item for item in answer.items if item.status != "ok"]
        if failed:
            raise RuntimeError(f"service items failed: {failed[:2]}")
    return sum(answer.usage.completion_tokens for answer in answers)


def measure(work: Workload, engine: str, gateway: str, rounds: int) -> list[Run]:
    """Each path once per round, paths interleaved so that drift in the machine favours none; totals per path."""
    runs = {key: Run(key) for key in PATHS}
    for _ in range(rounds):
        for key, coroutine in (("one-request", lambda: one_request(work, engine)),
                               ("raw", lambda: raw(work, engine)),
                               ("service", lambda: service(work, gateway, per_item=False)),
                               ("service-2nd", lambda: service(work, gateway, per_item=False,
                                                               model=SECOND_REQUEST_MODEL)),
                               ("service-small", lambda: service(work, gateway, per_item=True)),
                               ("naive", lambda: naive(work, engine))):
            started = time.perf_counter()
            runs[key].completion_tokens += asyncio.run(coroutine())
            runs[key].seconds += time.perf_counter() - started
            runs[key].judgments += work.judgments
    return list(runs.values())


def prefill_cost(work: Workload, engine: str) -> dict[str, float]:
    """Prompt tokens the engine computed (not served from its prefix cache) for one fresh judge prompt with n votes.
    vLLM fans `n` out into child requests that share the prompt's cached blocks; each child still computes its
    last, partial block."""
    async def send(bodies: list[dict[str, Any]]) -> None:
        async with httpx.AsyncClient(timeout=TIMEOUT) as client:
            await post_all(client, f"{engine}/v1/completions", bodies)

    def uncached() -> float:
        total = engine_metric(engine, "vllm:prompt_tokens_total")
        return total - engine_metric(engine, "vllm:prompt_tokens_cached_total")

    def computed(bodies: list[dict[str, Any]]) -> float:
        before = uncached()
        asyncio.run(send(bodies))
        return uncached() - before

    def fresh(n: int) -> dict[str, Any]:
        """The first item's judge prompt behind a unique token prefix, so that none of it is cached yet."""
        body = work.pointwise(work.items[0], n)
        return {**body, "prompt": work.template.encode(f"{uuid.uuid4()}\n") + body["prompt"]}

    one = computed([fresh(1)])
    return {"n=1": one, "n=8": computed([fresh(8)]), "8 x n=1": computed([fresh(1)] * 8)}


def voting_comparison(work: Workload, gateway: str) -> list[str]:
    """Adaptive vs fixed voting (pointwise, up to 8 votes), against a second fixed run as the noise floor."""
    request = ScoreRequest(model=MODEL, task="chat", votes=8, dedup=False, cache=False,
                           items=[ScoreItemIn.model_validate(item) for item in work.items],
                           sampling=SamplingIn(max_tokens=work.max_tokens))
    adaptive_request = request.model_copy(update={"adaptive": AdaptiveIn(round_votes=2, max_stderr=0.5)})
    with JudgeClient(gateway, timeout_s=TIMEOUT_S) as client:
        fixed, fixed_again, adaptive = client.score(request), client.score(request), client.score(adaptive_request)

    def agreement(a: ScoreResponse, b: ScoreResponse) -> float:
        pairs = list(zip(a.items, b.items, strict=True))
        return sum(x.score is not None and y.score is not None and abs(x.score - y.score) <= 1.0
                   for x, y in pairs) / len(pairs)

    fixed_tokens, adaptive_tokens = fixed.usage.completion_tokens, adaptive.usage.completion_tokens
    votes = [item.votes_used for item in adaptive.items]
    return [
        f"adaptive (round 2, max_stderr 0.5) vs fixed 8 votes: completion tokens {adaptive_tokens} vs {fixed_tokens} "
        f"({1 - adaptive_tokens / fixed_tokens:.0%} saved), mean votes {sum(votes) / len(votes):.1f}",
        f"verdicts within 1 point: adaptive vs fixed {agreement(adaptive, fixed):.0%}; "
        f"fixed vs a second fixed run (noise floor) {agreement(fixed_again, fixed):.0%}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="CPU-sized: 8 items, 4 pairs, 4 votes, 128 tokens, 2 rounds.")
    parser.add_argument("--rounds", type=int, default=3, help="Times each path runs, interleaved.")
    parser.add_argument("--items", type=int, default=32)
    parser.add_argument("--pairs", type=int, default=16)
    parser.add_argument("--votes", type=int, default=4)
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument("--port", type=int, default=8041)
    parser.add_argument("--engine-port", type=int, default=8042)
    parser.add_argument("--external-engine", help="Use this running vLLM server instead of a managed one.")
    parser.add_argument("--model-path", type=Path, help="Model directory (tokenizer) for --external-engine.")
    parser.add_argument("--served-name", help="The external engine's served model name.")
    parser.add_argument("--engine-loads-forcing", action="store_true",
                        help="The external engine runs with --logits-processors "
                        "service.engine.forced_ending_processor:ForcedEnding (then `service` forces in the engine).")
    parser.add_argument("--input-tokens", type=int, default=0,
                        help="Pad every response to this many tokens (0: the data's own lengths).")
    parser.add_argument("--max-model-len", type=int, default=2048)
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto", help="The managed engine's.")
    parser.add_argument("--engine-arg", action="append", default=[],
                        help="Extra vLLM argument for the managed engine, e.g. --engine-arg=--load-format=dummy.")
    args = parser.parse_args()
    if args.quick:
        args.items, args.pairs, args.votes, args.max_tokens, args.rounds = 8, 4, 4, 128, 2

    model_path = args.model_path or prepare_bundled_model(ROOT / ".cache" / "models")
    if args.external_engine:
        engine, served = args.external_engine.rstrip("/"), args.served_name or MODEL
        engines = [{"kind": "external", "url": engine, "served_model_name": served, "max_in_flight": 1024}]
    else:
        engine, served = f"http://127.0.0.1:{args.engine_port}", MODEL
        engines = [{"kind": "managed", "port": args.engine_port, "max_in_flight": 1024, "device": args.device,
                    "extra_args": args.engine_arg}]
    work = Workload(args, ChatTemplate.from_directory(model_path), served)
    common = {"version": "bench", "model_path": str(model_path), "max_queued_requests": 100_000,
              "max_model_len": args.max_model_len}
    # The second model shares the first one's engine, which loads the forced-ending processor either way.
    second = {"kind": "external", "url": engine, "served_model_name": served, "max_in_flight": 1024}
    # An engine you started writes endings itself only if it loads the processor (README, "Load tests").
    in_engine = "in_engine" if not args.external_engine or args.engine_loads_forcing else "second_request"
    models = [{"name": MODEL, "engines": engines, "forced_ending": in_engine, **common},
              {"name": SECOND_REQUEST_MODEL, "engines": [second], "forced_ending": "second_request", **common}]
    with LocalGateway(models, workdir=ROOT, port=args.port) as gateway:
        asyncio.run(raw(work, engine))  # warm-up: every path now finds the same prefixes cached
        runs = measure(work, engine, gateway, args.rounds)
        prefill = prefill_cost(work, engine)
        voting = voting_comparison(work, gateway)
    report(args, runs, prefill, voting)


def report(args: argparse.Namespace, runs: list[Run], prefill: dict[str, float], voting: list[str]) -> None:
    print(f"\n{args.items} items x {args.votes} votes + {args.pairs} pairs x {args.votes} votes x 2 orders, "
          f"max_tokens={args.max_tokens}, {args.rounds} rounds per path (totals); machine: {platform.node()}, "
          f"{os.cpu_count()} cores\n")
    print("| path | seconds | judgments | judgments/s | completion tokens/s |\n|---|---|---|---|---|")
    for run in runs:
        print(run.row())
    rate = {run.key: run.rate for run in runs}
    print(f"\nservice (one request per item) / service (one batch): {rate['service-small'] / rate['service']:.3f}")
    print(f"prefill tokens computed for one fresh prompt: n=1 {prefill['n=1']:.0f}, n=8 {prefill['n=8']:.0f} "
          f"({prefill['n=8'] / prefill['n=1']:.2f}x), 8 separate n=1 requests {prefill['8 x n=1']:.0f} "
          f"({prefill['8 x n=1'] / prefill['n=1']:.2f}x)")
    for line in voting:
        print(line)
    print(f"gateway={rate['service-2nd'] / rate['raw']:.3f} "
          f"forcing_in_engine={rate['service'] / rate['one-request']:.3f} "
          f"forcing_second_request={rate['service-2nd'] / rate['one-request']:.3f} "
          f"service/naive={rate['service'] / rate['naive']:.3f}")


if __name__ == "__main__":
    main()
