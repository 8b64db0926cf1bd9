"""`FakeVLLMTransport`: a fake of vLLM's OpenAI-compatible server at the httpx transport boundary.

It answers `/health` and `/v1/completions` like vLLM does, with completions from a script the test gives, and
records every request body so tests can assert what the gateway sent (n, regex, token ids).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx

Script = Callable[[dict[str, Any]], list[str] | httpx.Response]


def pointwise_completion(score: str, think: str = "Looks right.") -> str:
    return (
        f"<think>{think}</think>\n<generate_rubrics>Brevity.</generate_rubrics>\n"
        f"<eval>Meets the rubric.</eval>\n<answer>{score}</answer>"
    )


def pairwise_completion(winner: str) -> str:
    return (
        "<think>Compare both.</think>\n<generate_rubrics>Accuracy.</generate_rubrics>\n"
        f"<eval>One is better.</eval>\n<answer>{winner}</answer>"
    )


class FakeVLLMTransport(httpx.AsyncBaseTransport):
    def __init__(self, script: Script, healthy: bool = True) -> None:
        self.script = script
        self.healthy = healthy
        self.requests: list[dict[str, Any]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/health":
            return httpx.Response(200 if self.healthy else 503)
        if request.url.path != "/v1/completions":
            return httpx.Response(404, json={"error": "no such route in the fake"})
        body = json.loads(await request.aread())
        self.requests.append(body)
        answer = self.script(body)
        if isinstance(answer, httpx.Response):
            return answer
        texts = (answer * body["n"])[: body["n"]]
        return httpx.Response(200, json={
            "choices": [{"index": i, "text": t, "finish_reason": "stop"} for i, t in enumerate(texts)],
            "usage": {"prompt_tokens": len(body["prompt"]), "completion_tokens": 10 * len(texts)},
        })
