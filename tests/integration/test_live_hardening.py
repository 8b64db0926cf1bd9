"""Hardening on real parts: `python -m service` as its own process (as `make serve` runs it) with API keys, one
real vLLM-CPU engine and one `FakeBadEngine` beside it, over real HTTP and real signals.

In file order (the last test stops the gateway): keys on real judging, fuzzing against the real engine, an engine
that answers 500s and garbage, SIGHUP rubric reload, clients that disconnect mid-body or read slowly, an engine
that hangs, and SIGTERM while busy.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from genrm_client.launcher import free_port, wait_ready
from loadtests.fuzzing import run_fuzz
from service.auth.api_keys import hash_key
from service.engine.processes import group_processes
from tests.conftest import ROOT
from tests.fake_engines import FakeBadEngine
from tests.integration.conftest import MAX_TOKENS, engine_groups_of
from tests.waiting import wait_for

pytestmark = pytest.mark.engine

KEY = "genrm_live-hardening-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
MODEL = "hardened-judge"


@dataclass
class Gateway:
    url: str
    process: subprocess.Popen[bytes]
    rubrics: Path
    bad: FakeBadEngine
    log: Path

    def engine_groups(self) -> list[int]:
        return engine_groups_of(self.process.pid)


@pytest.fixture(scope="module")
def gateway(bundled_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    workdir = tmp_path_factory.mktemp("hardened")
    rubrics = workdir / "rubrics"
    shutil.copytree(ROOT / "rubrics", rubrics)
    port = free_port()
    config = {
        "host": "127.0.0.1", "port": port, "rubrics_dir": str(rubrics), "cache_dir": str(ROOT / ".cache"),
        "max_items_per_request": 4, "max_votes": 2, "drain_grace_s": 120, "log_format": "text",
        "api_keys": [{"name": "live", "hash": hash_key(KEY), "scopes": ["judge", "admin"]}],
        "models": [{"name": MODEL, "version": "hard-1", "model_path": str(bundled_model_dir),
                    "sampling": {"max_tokens": MAX_TOKENS}, "request_timeout_s": 300,
                    "engines": [{"kind": "managed", "max_in_flight": 4}]}],
    }
    with FakeBadEngine("error") as bad:
        config["models"][0]["engines"].append({"kind": "external", "url": bad.url, "max_in_flight": 2})
        (workdir / "gateway.yaml").write_text(yaml.safe_dump(config))
        log = workdir / "gateway.log"
        with log.open("wb") as output:
            process = subprocess.Popen([sys.executable, "-m", "service", "--config", str(workdir / "gateway.yaml")],
                                       cwd=ROOT, stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_ready(url, timeout_s=600)
            yield Gateway(url, process, rubrics, bad, log)
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGINT)
                process.wait(timeout=120)


def items(count: int, prompt: str = "Name a colour.") -> list[dict[str, str]]:
    return [{"prompt": f"{prompt} ({n})", "response": f"Colour number {n}."} for n in range(count)]


def metric(gateway: Gateway, name: str) -> float:
    text = httpx.get(f"{gateway.url}/metrics", timeout=30).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name))


def test_real_judging_needs_the_key(gateway: Gateway) -> None:
    body = {"task": "chat", "items": items(2)}
    assert httpx.post(f"{gateway.url}/v1/score", json=body, timeout=60).status_code == 401
    answer = httpx.post(f"{gateway.url}/v1/score", json=body, headers=AUTH, timeout=300)
    assert answer.status_code == 200 and [i["status"] for i in answer.json()["items"]] == ["ok", "ok"]
    assert metric(gateway, 'genrm_key_judgments_total{key="live"}') >= 2


def test_fuzzing_against_the_real_engine_finds_no_server_error(gateway: Gateway) -> None:
    report = run_fuzz(gateway.url, 8, headers=AUTH)
    print("fuzz (real engine):", report.as_dict())
    assert report.cases >= 80 and report.server_errors == 0 and report.failures == []
    assert report.judged >= 5


@pytest.mark.parametrize("mode", ["error", "garbage"])
def test_an_engine_that_answers_500s_or_garbage_costs_retries_not_items(gateway: Gateway, mode: Any) -> None:
    gateway.bad.mode = mode
    before, retried_before = gateway.bad.completions, metric(gateway, "genrm_engine_retries_total")
    answer = httpx.post(f"{gateway.url}/v1/score", json={"task": "chat", "items": items(4, mode)}, headers=AUTH,
                        timeout=300)
    assert [i["status"] for i in answer.json()["items"]] == ["ok"] * 4
    assert gateway.bad.completions > before  # it was tried, and what it answered was retried on the real engine
    assert metric(gateway, "genrm_engine_retries_total") >= retried_before + (gateway.bad.completions - before)


def test_sighup_reloads_the_rubric_library(gateway: Gateway) -> None:
    before = httpx.get(f"{gateway.url}/v1/rubrics", headers=AUTH).json()["library_hash"]
    (gateway.rubrics / "chat" / "zz-live.yaml").write_text(
        "id: chat.zz_live\nversion: 1\ndomain: chat\ntitle: Live\ndescription: Added while serving.\n"
        "bands:\n  - {min: 0, max: 10, description: Any.}\n")
    os.kill(gateway.process.pid, signal.SIGHUP)

    def library_hash() -> str:
        return str(httpx.get(f"{gateway.url}/v1/rubrics", headers=AUTH).json()["library_hash"])

    wait_for(lambda: library_hash() != before, "the library hash changes after SIGHUP", timeout_s=30)
    after = library_hash()
    assert httpx.get(f"{gateway.url}/readyz").json()["rubric_library_hash"] == after
    assert gateway.process.poll() is None


def test_clients_that_vanish_mid_body_or_read_slowly_cost_nothing(gateway: Gateway) -> None:
    host, port = "127.0.0.1", int(gateway.url.rsplit(":", 1)[1])
    fds_before = len(os.listdir(f"/proc/{gateway.process.pid}/fd"))
    for _ in range(50):  # a declared 100 kB body, 20 bytes sent, then gone
        with socket.create_connection((host, port)) as vanishing:
            vanishing.sendall(b"POST /v1/score HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                              b"Authorization: Bearer " + KEY.encode() + b"\r\nContent-Length: 100000\r\n\r\n"
                              b'{"task": "chat", "it')
    slow = socket.create_connection((host, port))
    slow.sendall(b"GET /openapi.json HTTP/1.1\r\nHost: x\r\n\r\n")  # then reads nothing for a while
    meanwhile = httpx.post(f"{gateway.url}/v1/score", json={"task": "chat", "items": items(1)}, headers=AUTH,
                           timeout=300)
    assert meanwhile.status_code == 200
    time.sleep(2)  # the scenario, not synchronisation: the slow client reads nothing for a while
    received = b""
    slow.settimeout(30)
    while b"\r\n\r\n" not in received or len(received) < 10_000:
        chunk = slow.recv(65536)
        if not chunk:
            break
        received += chunk
    slow.close()
    assert received.startswith(b"HTTP/1.1 200")
    wait_for(lambda: len(os.listdir(f"/proc/{gateway.process.pid}/fd")) <= fds_before + 5,
             "the gateway holds no descriptor for the 51 clients gone", timeout_s=30)  # nothing leaked per client


def test_a_hung_engine_is_abandoned_and_its_work_retried_on_the_real_one(gateway: Gateway) -> None:
    gateway.bad.mode = "hang"
    started = time.monotonic()
    answer = httpx.post(f"{gateway.url}/v1/score", json={"task": "chat", "items": items(4, "Hang")}, headers=AUTH,
                        timeout=300)
    elapsed = time.monotonic() - started
    assert [i["status"] for i in answer.json()["items"]] == ["ok"] * 4
    engines = {e["engine"]: e["state"] for e in httpx.get(f"{gateway.url}/readyz", timeout=30).json()["engines"]}
    assert engines[f"{MODEL}/1"] == "unhealthy" and engines[f"{MODEL}/0"] == "ready"
    print(f"hung engine: 4 items answered in {elapsed:.1f} s, the hung engine out of rotation")
    assert "engine_hung" in gateway.log.read_text() or "abandoning" in gateway.log.read_text()


def test_sigterm_while_busy_drains_then_stops_the_engines(gateway: Gateway) -> None:
    groups = gateway.engine_groups()
    assert groups and all(group_processes(group) for group in groups)
    outcome: dict[str, httpx.Response] = {}
    busy = threading.Thread(target=lambda: outcome.update(answer=httpx.post(
        f"{gateway.url}/v1/score", json={"task": "chat", "votes": 2, "items": items(4, "Drain")}, headers=AUTH,
        timeout=300)))
    busy.start()
    wait_for(lambda: metric(gateway, "genrm_engine_in_flight_requests") > 0, "the request is in an engine")
    gateway.process.send_signal(signal.SIGTERM)
    wait_for(lambda: httpx.get(f"{gateway.url}/readyz", timeout=30).status_code == 503,
             "the gateway reports draining after SIGTERM", timeout_s=30)
    refused = httpx.post(f"{gateway.url}/v1/score", json={"task": "chat", "items": items(1)}, headers=AUTH,
                         timeout=30)
    ready = httpx.get(f"{gateway.url}/readyz", timeout=30)
    busy.join()
    code = gateway.process.wait(timeout=180)
    assert refused.status_code == 503 and int(refused.headers["Retry-After"]) > 0
    assert (ready.status_code, ready.json()["status"]) == (503, "draining")
    assert [i["status"] for i in outcome["answer"].json()["items"]] == ["ok"] * 4  # accepted, so finished
    assert code in (0, -signal.SIGTERM)
    assert [group_processes(group) for group in groups] == [[] for _ in groups]  # the engines were stopped
