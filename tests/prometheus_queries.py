"""Reading a real Prometheus over its HTTP API, and the shipped dashboards' queries as Grafana would send them.

Shared by the live monitoring test (Debian's Prometheus beside an in-process gateway) and the compose test
(Prometheus in its container, scraping the gateway's container)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import ROOT

DASHBOARDS = ROOT / "deploy" / "grafana" / "dashboards"
# Grafana's own macros, as Grafana would fill them for a 15-minute view.
MACROS = {"$__rate_interval": "1m", "$__range": "15m", '"$model"': '".*"', '"$version"': '".*"'}


def wait_for(condition: Callable[[], object], timeout_s: float, what: str, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    tail = log.read_text()[-2000:] if log else ""
    raise AssertionError(f"timed out waiting for {what}\n{tail}")


def query(prometheus: httpx.Client, expr: str) -> list[dict[str, Any]]:
    answer = prometheus.get("/api/v1/query", params={"query": expr}).json()
    assert answer["status"] == "success", f"{expr}: {answer.get('error')}"
    result: list[dict[str, Any]] = answer["data"]["result"]
    return result


def scalar(prometheus: httpx.Client, expr: str) -> float:
    result = query(prometheus, expr)
    assert len(result) == 1, (expr, result)
    return float(result[0]["value"][1])


def dashboard_queries() -> list[tuple[str, str, str]]:
    found = []
    for path in sorted(DASHBOARDS.glob("*.json")):
        for panel in json.loads(path.read_text())["panels"]:
            for target in panel.get("targets", []):
                found.append((path.stem, panel["title"], target["expr"]))
    return found


def grafana_filled(expr: str) -> str:
    for macro, value in MACROS.items():
        expr = expr.replace(macro, value)
    assert "$" not in expr, f"a Grafana variable this test does not fill: {expr}"
    return expr


def panels_without_data(prometheus: httpx.Client) -> list[str]:
    """Every dashboard panel query that returns no series, as `dashboard / title: expr`."""
    queries = dashboard_queries()
    assert len(queries) > 40
    return [f"{dashboard} / {title}: {expr}" for dashboard, title, expr in queries
            if not query(prometheus, grafana_filled(expr))]
