"""What the Ray path adds per request: the judge started in Ray (`service.ray_serving.deploy.start_judge`: gateway
actor, one engine actor) against a plain gateway (`python -m service`) whose external engine is that same engine
actor's vLLM, so only the path differs.

    .venv/bin/python loadtests/measure_ray_path.py [--rounds 30] [--max-tokens 96]

A local Ray instance on this machine. Each round sends the same one-item `/v1/score` (greedy, uncached) through
both, in alternating order, one request at a time after two warm-up rounds. Prints the median and p90 latency of
each path and the median of the paired differences (Ray − plain).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

import ray  # noqa: E402

from genrm_client import LocalGateway  # noqa: E402
from genrm_wire.ray_names import NAMESPACE, gateway_actor_name  # noqa: E402
from loadtests.harness import ROOT  # noqa: E402
from service.ray_serving.deploy import start_judge, stop_judge  # noqa: E402

JUDGE = {"name": "ray-path-judge", "version": "bundled-q4_1-fp32", "engines": [{"kind": "managed"}]}


def timed(http: httpx.Client, url: str, body: dict[str, object]) -> float:
    started = time.perf_counter()
    response = http.post(f"{url}/v1/score", json=body)
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise SystemExit(f"{url}: {response.status_code} {response.text}")
    assert response.json()["items"][0]["status"] == "ok", response.text
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--max-tokens", type=int, default=96)
    args = parser.parse_args()
    ray.init(num_cpus=4, include_dashboard=False, namespace=NAMESPACE)
    try:
        ray_url = start_judge({"engines": 1, "cpus_per_engine": 1, "model": JUDGE,
                               "service": {"allow_unauthenticated": True}}, ROOT / ".cache")
        gateway = ray.get_actor(gateway_actor_name(JUDGE["name"]), namespace=NAMESPACE)
        engine_url = ray.get(gateway.engines.remote())[0]["url"]
        plain_model = {**JUDGE, "engines": [{"kind": "external", "url": engine_url}], "forced_ending": "in_engine"}
        with LocalGateway([plain_model], workdir=ROOT) as plain_url, httpx.Client(timeout=600) as http:
            body = {"task": "chat", "cache": False, "sampling": {"temperature": 0.0, "max_tokens": args.max_tokens},
                    "items": [{"prompt": "What is 2 + 2?", "response": "2 + 2 = 4."}]}
            paths = {"plain": plain_url, "ray": ray_url}
            times: dict[str, list[float]] = {"plain": [], "ray": []}
            for round_index in range(args.rounds + 2):
                order = ["plain", "ray"] if round_index % 2 == 0 else ["ray", "plain"]
                taken = {name: timed(http, paths[name], body) for name in order}
                if round_index >= 2:
                    for name, seconds in taken.items():
                        times[name].append(seconds)
    finally:
        stop_judge(JUDGE["name"])
        ray.shutdown()
    print(f"One-item /v1/score, greedy, max_tokens {args.max_tokens}, {args.rounds} paired rounds, same engine\n")
    print("| path | median | p90 |\n|---|---|---|")
    for name, values in times.items():
        ordered = sorted(values)
        print(f"| {name} | {statistics.median(ordered) * 1000:.1f} ms | "
              f"{ordered[int(0.9 * (len(ordered) - 1))] * 1000:.1f} ms |")
    differences = [r - p for r, p in zip(times["ray"], times["plain"], strict=True)]
    print(f"\nRay − plain, median of paired differences: {statistics.median(differences) * 1000:+.1f} ms")


if __name__ == "__main__":
    main()
