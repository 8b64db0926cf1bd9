"""The real gateway in-process, with vLLM replaced by `FakeVLLMTransport` at the httpx boundary."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from genrm_client import AsyncJudgeClient
from models.chat import ChatTemplate
from service.app import create_app
from service.settings import load_settings
from tests.conftest import ROOT
from tests.fakes import (
    FLAT_READING,
    FakeVLLMTransport,
    Script,
    equivalence_completion,
    pairwise_completion,
    pointwise_completion,
    top_logprobs_answer,
)

AppFactory = Callable[..., AbstractAsyncContextManager[tuple[httpx.AsyncClient, FakeVLLMTransport]]]
JudgeFactory = Callable[..., AbstractAsyncContextManager[tuple[AsyncJudgeClient, FakeVLLMTransport]]]


def default_script(body: dict[str, Any]) -> list[str] | httpx.Response:
    """Pointwise prompts get a 7, pairwise ones an A, equivalence ones `equal` (the regex tells which format was
    asked for); a probability read finds every verdict equally likely."""
    if "logprobs" in body:
        return top_logprobs_answer(body, FLAT_READING)
    regex = body.get("structured_outputs", {}).get("regex", "")
    if "(equal|different)" in regex:
        return [equivalence_completion("equal")]
    return [pairwise_completion("A")] if "(A|B)" in regex else [pointwise_completion("7")]


@asynccontextmanager
async def gateway_transport(
    model_dir: Path, script: Script = default_script, healthy: bool = True, service: dict[str, Any] | None = None,
    **model_overrides: Any,
) -> AsyncIterator[tuple[httpx.ASGITransport, FakeVLLMTransport]]:
    """The running gateway app behind an in-process ASGI transport, and the fake engine under it. `service`
    overrides service-wide settings (keys, limits); the other keywords the model's."""
    fake = FakeVLLMTransport(script, healthy)
    model = {
        "name": "fake-judge", "version": "v-test",
        "model_path": str(model_dir), "max_model_len": 2048,
        "engines": [{"kind": "external", "url": "http://fake-vllm:8000"}],
        "sampling": {"max_tokens": 160},
        **model_overrides,
    }
    settings = load_settings(**{"rubrics_dir": ROOT / "rubrics", "models": [model], "max_items_per_request": 16,
                                "max_votes": 8, **(service or {})})
    app = create_app(settings, engine_transport=fake)
    async with app.router.lifespan_context(app):
        # A real server sends the 500 envelope; Starlette then re-raises only for logging.
        yield httpx.ASGITransport(app=app, raise_app_exceptions=False), fake


@pytest.fixture
def make_client(bundled_model_dir: Path) -> AppFactory:
    @asynccontextmanager
    async def factory(
        script: Script = default_script, healthy: bool = True, service: dict[str, Any] | None = None,
        **model_overrides: Any,
    ) -> AsyncIterator[tuple[httpx.AsyncClient, FakeVLLMTransport]]:
        async with (
            gateway_transport(bundled_model_dir, script, healthy, service, **model_overrides) as (transport, fake),
            httpx.AsyncClient(transport=transport, base_url="http://gateway") as client,
        ):
            yield client, fake

    return factory


@pytest.fixture
def make_judge(bundled_model_dir: Path) -> JudgeFactory:
    """Like `make_client`, with the project's typed `AsyncJudgeClient` in place of a raw httpx client."""

    @asynccontextmanager
    async def factory(
        script: Script = default_script, **model_overrides: Any
    ) -> AsyncIterator[tuple[AsyncJudgeClient, FakeVLLMTransport]]:
        async with (
            gateway_transport(bundled_model_dir, script, **model_overrides) as (transport, fake),
            AsyncJudgeClient("http://gateway", transport=transport) as judge,
        ):
            yield judge, fake

    return factory


@pytest.fixture
def decode(chat_template: ChatTemplate) -> Callable[[dict[str, Any]], str]:
    return lambda body: chat_template.decode(body["prompt"])
