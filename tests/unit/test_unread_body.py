"""`UnreadBodyMiddleware` on scripted ASGI messages: an early answer waits for the body's rest, reads no more than
`max_discarded_body_bytes`, and then says `Connection: close`; a request with `Expect: 100-continue` or no body
is never read. Over real HTTP with six clients: tests/api/test_oversized_bodies_http.py."""

from __future__ import annotations

import asyncio

from starlette.types import Message, Receive, Scope, Send

from service.api.unread_body import UnreadBodyMiddleware
from service.settings import RequestLimits

CHUNK = b"x" * 1024


def scope(*headers: tuple[bytes, bytes]) -> Scope:
    return {"type": "http", "method": "POST", "path": "/v1/score", "headers": list(headers)}


async def refuse_unread(_: Scope, __: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 413, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": b"{}"})


def run(request: Scope, chunks: int, limits: RequestLimits) -> tuple[int, list[Message]]:
    """(chunks the client's body was read for, what was sent) for a body of `chunks` KiB."""
    read = 0
    sent: list[Message] = []

    async def receive() -> Message:
        nonlocal read
        read += 1
        return {"type": "http.request", "body": CHUNK, "more_body": read < chunks}

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(UnreadBodyMiddleware(refuse_unread, limits)(request, receive, send))
    return read, sent


def test_an_early_answer_reads_the_whole_body_first_and_keeps_the_connection() -> None:
    read, sent = run(scope((b"content-length", b"65536")), 64, RequestLimits())
    assert read == 64
    assert (b"connection", b"close") not in sent[0]["headers"]


def test_reading_stops_at_the_byte_bound_and_the_answer_closes() -> None:
    read, sent = run(scope((b"content-length", b"1048576")), 1024, RequestLimits(max_discarded_body_bytes=8 * 1024))
    assert 8 <= read <= 10  # the bound, and the chunk that passed it
    assert (b"connection", b"close") in sent[0]["headers"] and sent[0]["status"] == 413


def test_a_client_that_waits_for_100_continue_is_answered_without_reading() -> None:
    read, sent = run(scope((b"content-length", b"65536"), (b"expect", b"100-continue")), 64, RequestLimits())
    assert read == 0 and sent[0]["status"] == 413


def test_a_request_without_a_body_is_not_read() -> None:
    read, _ = run(scope(), 1, RequestLimits())
    assert read == 0
