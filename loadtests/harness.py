"""What the measurement scripts (and the integration tests) share: start a gateway the way `make serve` does,
wait for it, read engines' own metrics, and build the exact engine requests the service would send."""

from __future__ import annotations

import json
from typing import Any

import httpx

from service.launcher import ROOT, LocalGateway, wait_ready

__all__ = ["ROOT", "engine_metric", "preference_rows", "start_gateway", "stop_gateway", "wait_ready"]
DATA = ROOT.parent / "shared" / "data" / "preferences-dev.jsonl"
MAX_ITEM_CHARS = 2400


def start_gateway(port: int, models: list[dict[str, Any]], log_level: str = "warning") -> LocalGateway:
    """`python -m service` serving `models`, started but not yet ready: `wait_ready` its URL."""
    gateway = LocalGateway(port, models, log_level)
    gateway.start()
    return gateway


def stop_gateway(gateway: LocalGateway) -> None:
    gateway.stop()


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
