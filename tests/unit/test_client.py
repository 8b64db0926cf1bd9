"""The client's retry and error behaviour against scripted HTTP answers (`httpx.MockTransport`, a fake at the
HTTP boundary). Against the real gateway: tests/api/test_client_api.py and tests/integration."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from genrm_client import (
    JudgeClient,
    JudgeServerError,
    JudgeUnavailable,
    ScoreItemIn,
    ScoreRequest,
)

ITEM = ScoreItemIn(id="q", prompt="What is 2 + 2?", response="4")


def scripted(*answers: httpx.Response) -> tuple[httpx.MockTransport, list[float]]:
    """Answers in order, one per request; records when each request came."""
    queue, times = list(answers), []

    def handle(_: httpx.Request) -> httpx.Response:
        times.append(time.monotonic())
        return queue.pop(0)

    return httpx.MockTransport(handle), times


def envelope(status: int, error_type: str, param: str | None = None) -> dict[str, object]:
    return {"error": {"message": f"{error_type}, say how to fix", "type": error_type, "param": param,
                      "code": status}}


OK_BODY = {"model": {"name": "m", "version": "1"}, "rubric_set": {"ids": [], "hash": "h"},
           "usage": {"prompt_tokens": 1, "completion_tokens": 2, "engine_requests": 1}, "aggregate": "mean",
           "items": [{"id": "q", "status": "ok", "score": 5.0, "scores": [5.0]}]}


@pytest.fixture
def request_() -> ScoreRequest:
    return ScoreRequest(task="chat", items=[ITEM])


def client_with(transport: httpx.MockTransport, max_wait_s: float = 10) -> Iterator[JudgeClient]:
    with JudgeClient("http://judge", transport=transport, max_wait_s=max_wait_s) as judge:
        yield judge


def test_overload_is_retried_after_the_services_retry_after(request_: ScoreRequest) -> None:
    transport, times = scripted(
        httpx.Response(429, headers={"Retry-After": "0.2"}, json=envelope(429, "overloaded")),
        httpx.Response(503, headers={"Retry-After": "0.1"}, json=envelope(503, "engine_unavailable")),
        httpx.Response(200, json=OK_BODY),
    )
    for judge in client_with(transport):
        answer = judge.score(request_)
    assert answer.items[0].score == 5.0 and len(times) == 3
    assert times[1] - times[0] >= 0.2 and times[2] - times[1] >= 0.1


def test_overload_past_max_wait_raises_unavailable_with_retry_after(request_: ScoreRequest) -> None:
    transport, times = scripted(httpx.Response(429, headers={"Retry-After": "30"}, json=envelope(429, "overloaded")))
    for judge in client_with(transport, max_wait_s=5):
        with pytest.raises(JudgeUnavailable) as raised:
            judge.score(request_)
    assert len(times) == 1 and raised.value.retry_after == 30 and raised.value.type == "overloaded"


def test_server_errors_are_not_retried_and_keep_the_envelope(request_: ScoreRequest) -> None:
    transport, times = scripted(httpx.Response(504, json=envelope(504, "engine_timeout")))
    for judge in client_with(transport):
        with pytest.raises(JudgeServerError) as raised:
            judge.score(request_)
    assert len(times) == 1 and raised.value.status == 504 and raised.value.type == "engine_timeout"


def test_an_answer_without_the_envelope_still_raises_with_its_text(request_: ScoreRequest) -> None:
    transport, _ = scripted(httpx.Response(502, text="Bad Gateway from a proxy"))
    for judge in client_with(transport):
        with pytest.raises(JudgeServerError, match="Bad Gateway from a proxy"):
            judge.score(request_)


def test_fields_left_unset_are_not_sent_so_the_services_defaults_apply(request_: ScoreRequest) -> None:
    bodies: list[bytes] = []

    def handle(request: httpx.Request) -> httpx.Response:
        bodies.append(request.content)
        return httpx.Response(200, json=OK_BODY)

    for judge in client_with(httpx.MockTransport(handle)):
        judge.score(request_)
    assert b'"sampling"' not in bodies[0] and b'"cache"' not in bodies[0] and b'"task":"chat"' in bodies[0]
