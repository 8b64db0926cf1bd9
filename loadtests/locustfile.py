"""Locust users for score/compare mixes, with an SLO report when the run ends.

    .venv/bin/locust -f loadtests/locustfile.py --host http://127.0.0.1:8000 --headless -u 32 -r 8 -t 5m

Knobs (environment): LOAD_ITEMS (items per request, default 1: how OpenRLHF calls), LOAD_VOTES (2),
LOAD_MAX_TOKENS (128), LOAD_SCORE_WEIGHT / LOAD_COMPARE_WEIGHT (3 / 1), and the SLO: SLO_P95_S (60),
SLO_ERROR_RATIO (0.01). The report prints p50/p95/p99 per route and overall and the error ratio (a 429 counts
as an error: the service asked the client to back off); the exit code is 1 when the SLO is missed.
"""

from __future__ import annotations

import itertools
import os
import random
from typing import Any

from locust import HttpUser, between, events, task
from locust.env import Environment

ITEMS = int(os.environ.get("LOAD_ITEMS", "1"))
VOTES = int(os.environ.get("LOAD_VOTES", "2"))
MAX_TOKENS = int(os.environ.get("LOAD_MAX_TOKENS", "128"))
SLO_P95_S = float(os.environ.get("SLO_P95_S", "60"))
SLO_ERROR_RATIO = float(os.environ.get("SLO_ERROR_RATIO", "0.01"))

PROMPTS = [
    ("What is the capital of Australia?", "Canberra.", "Sydney."),
    ("Give one tip for sleeping better.", "Keep a fixed wake-up time, even at weekends.", "Sleep more."),
    ("Write a haiku about rain.", "Soft rain on the roof / the kettle starts to murmur / no one needs to speak",
     "Rain is wet and falls down from the sky a lot."),
    ("Explain what a hash map is in one sentence.",
     "A hash map stores key-value pairs and finds a value by hashing its key to a bucket.", "It is a map."),
]
_counter = itertools.count()


def _batch(kind: str) -> list[dict[str, Any]]:
    batch = []
    for _ in range(ITEMS):
        prompt, good, bad = random.choice(PROMPTS)
        unique = f"{prompt} (#{next(_counter)})"  # distinct items, so neither cache nor dedup flatters the run
        if kind == "score":
            batch.append({"prompt": unique, "response": random.choice((good, bad))})
        else:
            batch.append({"prompt": unique, "response_a": good, "response_b": bad})
    return batch


class _JudgeUser(HttpUser):
    abstract = True
    wait_time = between(0.1, 0.5)

    def _post(self, route: str, body: dict[str, Any]) -> None:
        with self.client.post(route, json=body, name=route, catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"{response.status_code}: {response.text[:200]}")
            elif any(item["status"] != "ok" for item in response.json()["items"]):
                response.failure("an item failed: " + str([i for i in response.json()["items"] if i["error"]][:1]))


class ScoreUser(_JudgeUser):
    weight = int(os.environ.get("LOAD_SCORE_WEIGHT", "3"))

    @task
    def score(self) -> None:
        self._post("/v1/score", {"task": "chat", "votes": VOTES, "items": _batch("score"),
                                 "sampling": {"max_tokens": MAX_TOKENS}})


class CompareUser(_JudgeUser):
    weight = int(os.environ.get("LOAD_COMPARE_WEIGHT", "1"))

    @task
    def compare(self) -> None:
        self._post("/v1/compare", {"task": "chat", "votes": VOTES, "items": _batch("compare"),
                                   "sampling": {"max_tokens": MAX_TOKENS}})


@events.quitting.add_listener
def slo_report(environment: Environment, **_: Any) -> None:
    stats = environment.stats
    print("\nSLO report")
    print(f"{'route':<14} {'requests':>9} {'errors':>7} {'p50 s':>7} {'p95 s':>7} {'p99 s':>7}")
    for entry in [*stats.entries.values(), stats.total]:
        p50, p95, p99 = (entry.get_response_time_percentile(q) / 1000 for q in (0.5, 0.95, 0.99))
        print(f"{entry.name:<14} {entry.num_requests:>9} {entry.num_failures:>7} {p50:>7.2f} {p95:>7.2f} {p99:>7.2f}")
    total = stats.total
    error_ratio = total.num_failures / max(total.num_requests, 1)
    p95_s = total.get_response_time_percentile(0.95) / 1000
    met = total.num_requests > 0 and error_ratio <= SLO_ERROR_RATIO and p95_s <= SLO_P95_S
    print(f"error ratio {error_ratio:.3f} (SLO <= {SLO_ERROR_RATIO}), p95 {p95_s:.2f} s (SLO <= {SLO_P95_S} s): "
          f"{'SLO met' if met else 'SLO MISSED'}")
    environment.process_exit_code = 0 if met else 1
