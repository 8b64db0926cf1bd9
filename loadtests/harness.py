"""What the measurement scripts (and the integration tests) share: start a gateway the way `make serve` does,
wait for it, read engines' own metrics, and build the exact engine requests the service would send."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "preferences-dev.jsonl"
MAX_ITEM_CHARS = 2400


def start_gateway(port: int, models: list[dict[str, Any]], log_level: str = "warning") -> subprocess.Popen[bytes]:
    """`python -m service` with `models` as its registry (GENRM_MODELS), in its own process group."""
    env = {**os.environ, "GENRM_MODELS": json.dumps(models), "GENRM_LOG_LEVEL": log_level}
    return subprocess.Popen([sys.executable, "-m", "service", "--port", str(port)], cwd=ROOT, env=env,
                            start_new_session=True)


def stop_gateway(process: subprocess.Popen[bytes]) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=60)


def wait_ready(url: str, timeout_s: float = 900) -> None:
    """Until /readyz says every engine is ready (a degraded pool also answers 200)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=5).json().get("status") == "ready":
                return
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{url} not ready after {timeout_s} s")


def engine_metric(url: str, name: str, labels: str = "") -> float:
    """Sum of a metric in a vLLM engine's own /metrics over series whose labels contain `labels`."""
    total = 0.0
    for line in httpx.get(f"{url}/metrics", timeout=10).text.splitlines():
        if line.startswith(name + "{") and labels in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def preference_rows(count: int, task: str = "chat") -> list[dict[str, Any]]:
    """The first `count` short preference pairs of a task from the shared dev data."""
    rows = []
    for line in DATA.read_text().splitlines():
        row = json.loads(line)
        size = sum(len(turn["content"]) for turn in row["prompt"]) + max(len(row["chosen"]), len(row["rejected"]))
        if row["task"] == task and size < MAX_ITEM_CHARS:
            rows.append(row)
        if len(rows) == count:
            return rows
    raise SystemExit(f"only {len(rows)} short {task} pairs in {DATA}")
