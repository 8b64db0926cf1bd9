"""Waiting for a precondition instead of sleeping: a test that acts "while busy" or "mid batch" first sees that
state hold, and fails naming it if it never does. Reading a metric's value, so that a counter can be shown to
have moved rather than merely to exist."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

POLL_S = 0.05


def wait_for(condition: Callable[[], bool], what: str, timeout_s: float = 120.0) -> None:
    """Return as soon as `condition()` is true; fail the test, naming `what`, if it is not within `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"the precondition never held within {timeout_s:g} s: {what}")
        time.sleep(POLL_S)


def metric_value(text: str, name: str, **labels: str) -> float:
    """The value of one series in Prometheus text (0 when the series is absent), matched on the given labels."""
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total


def scraped(url: str, name: str, **labels: str) -> float:
    """`metric_value` of a live server's `/metrics`."""
    return metric_value(httpx.get(f"{url}/metrics", timeout=10).text, name, **labels)


async def until(condition: Callable[[], bool | Awaitable[bool]], what: str, timeout_s: float = 60.0) -> None:
    """`wait_for` inside an event loop: yields to the loop between looks. `condition` may be a coroutine function
    (a look that itself asks the gateway, e.g. its /metrics)."""
    deadline = time.monotonic() + timeout_s
    while not await _holds(condition):
        if time.monotonic() > deadline:
            pytest.fail(f"the precondition never held within {timeout_s:g} s: {what}")
        await asyncio.sleep(POLL_S / 5)


async def _holds(condition: Callable[[], bool | Awaitable[bool]]) -> bool:
    found = condition()
    return bool(await found) if inspect.isawaitable(found) else bool(found)
