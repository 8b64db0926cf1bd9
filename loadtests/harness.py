"""What the measurement scripts and the integration tests share: the repository root, engines' own metrics, and
the project's preference data (`data/`). Gateways are started with `genrm_client.LocalGateway(models,
workdir=ROOT)`; readiness is `genrm_client.wait_ready`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

__all__ = ["DATA", "ROOT", "engine_metric", "preference_rows", "prompt_tokens"]
ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data" / "preferences-dev.jsonl"
MAX_ITEM_CHARS = 2400


def engine_metric(url: str, name: str, labels: str = "") -> float:
    """Sum of a metric in a vLLM engine's own /metrics over series whose labels contain `labels`."""
    total = 0.0
    for line in httpx.get(f"{url}/metrics", timeout=10).text.splitlines():
        if line.startswith(name + "{") and labels in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def prompt_tokens(url: str) -> tuple[float, float]:
    """A vLLM engine's prompt tokens so far: (computed, served from its prefix cache)."""
    total = engine_metric(url, "vllm:prompt_tokens_total")
    cached = engine_metric(url, "vllm:prompt_tokens_cached_total")
    return total - cached, cached


def preference_rows(count: int, task: str = "chat") -> list[dict[str, Any]]:
    """The first `count` short preference pairs of a task from the project's dev data."""
    rows = []
    for line in DATA.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        size = sum(len(turn["content"]) for turn in row["prompt"]) + max(len(row["chosen"]), len(row["rejected"]))
        if row["task"] == task and size < MAX_ITEM_CHARS:
            rows.append(row)
        if len(rows) == count:
            return rows
    raise SystemExit(f"only {len(rows)} short {task} pairs in {DATA}")
