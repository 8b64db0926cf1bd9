"""`FakeVLLMTransport`: a fake of vLLM's OpenAI-compatible server at the httpx transport boundary.

It answers `/health` and `/v1/completions` like vLLM does, with completions from a script the test gives, and
records every request body so tests can assert what the gateway sent (n, regex, token ids). One fake can stand
for several engines: each request's host is recorded, and hosts can be made unhealthy, late to answer /health
(a read timeout) or slow to accept connections (a connect timeout). A script may be async (to be slow, or to
wait for the test); `cancelled` counts engine requests abandoned mid-flight.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import math
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

Answer = list[str] | httpx.Response
Script = Callable[[dict[str, Any]], Answer | Awaitable[Answer]]


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


def equivalence_completion(answer: str) -> str:
    return ("<think>Compare the results.</think>\n<generate_rubrics>Same value.</generate_rubrics>\n"
            f"<eval>Checked.</eval>\n<answer>{answer}</answer>")


# A probability read of a judge with no preference among the first 256 tokens (bytes and the commonest pieces,
# the digits and A and B among them under byte-level vocabularies): verdicts outside the top 20 are read alone.
FLAT_READING = {token: 1 / 256 for token in range(256)}


def is_verdict_read(body: dict[str, Any]) -> bool:
    """Whether an engine request is a probability read (`top_logprobs_answer` answers it), not a sampled judgment."""
    return "logprobs" in body


def top_logprobs_answer(body: dict[str, Any], probabilities: dict[int, float]) -> httpx.Response:
    """vLLM's answer to a one-token probability read (`logprobs`, `return_tokens_as_token_ids`) from a model whose
    next-token distribution is `probabilities` (tokens not named have probability 0): the top `logprobs` of them
    and, as vLLM always adds, the generated token's own, which is the only allowed token when
    `allowed_token_ids` names one (its log-probability clamped at -9999 as vLLM does)."""
    assert body["logprobs"] and body["return_tokens_as_token_ids"] and body["max_tokens"] == 1
    ranked = sorted(probabilities, key=lambda token: -probabilities[token])
    generated = body["allowed_token_ids"][0] if body.get("allowed_token_ids") else ranked[0]
    shown = {token: math.log(probabilities[token]) for token in ranked[: body["logprobs"]]}
    shown[generated] = math.log(probabilities[generated]) if probabilities.get(generated) else -9999.0
    top = {f"token_id:{token}": value for token, value in shown.items()}
    return httpx.Response(200, json={
        "choices": [{"index": 0, "text": "", "finish_reason": "length",
                     "logprobs": {"tokens": [f"token_id:{generated}"], "token_logprobs": [shown[generated]],
                                  "top_logprobs": [top], "text_offset": [0]}}],
        "usage": {"prompt_tokens": len(body["prompt"]), "completion_tokens": 1},
    })


class FakeVLLMTransport(httpx.AsyncBaseTransport):
    def __init__(self, script: Script, healthy: bool = True) -> None:
        self.script = script
        self.healthy = healthy
        self.unhealthy_hosts: set[str] = set()
        self.late_health_hosts: set[str] = set()
        self.unaccepting_hosts: set[str] = set()
        self.requests: list[dict[str, Any]] = []
        self.hosts: list[str] = []
        self.cancelled = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.host in self.unaccepting_hosts:
            raise httpx.ConnectTimeout("the fake engine accepts no connection", request=request)
        if request.url.path == "/health" and request.url.host in self.late_health_hosts:
            raise httpx.ReadTimeout("the fake engine's /health is late", request=request)
        if request.url.path == "/health":
            up = self.healthy and request.url.host not in self.unhealthy_hosts
            return httpx.Response(200 if up else 503)
        if request.url.path != "/v1/completions":
            return httpx.Response(404, json={"error": "no such route in the fake"})
        body = json.loads(await request.aread())
        self.requests.append(body)
        self.hosts.append(request.url.host)
        try:
            answer = self.script(body)
            if inspect.isawaitable(answer):
                answer = await answer
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        if isinstance(answer, httpx.Response):
            return answer
        texts = (answer * body["n"])[: body["n"]]
        return httpx.Response(200, json={
            "choices": [{"index": i, "text": t, "finish_reason": "stop"} for i, t in enumerate(texts)],
            "usage": {"prompt_tokens": len(body["prompt"]), "completion_tokens": 10 * len(texts)},
        })
