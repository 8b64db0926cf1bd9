"""`create_app(settings)`: the FastAPI gateway. Nothing is built at import time."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import httpx
from fastapi import FastAPI

from service.api.access_log import AccessLogMiddleware
from service.api.errors import register_error_handlers
from service.api.middleware import MetricsMiddleware
from service.api.routes import router
from service.api.trainers import router as trainer_router
from service.metrics import Metrics
from service.settings import Settings
from service.state import AppState, build_state

logger = logging.getLogger(__name__)


async def _log_when_ready(state: AppState, settings: Settings) -> None:
    """Say so once every managed engine is ready: that is when `make serve` users can send requests."""
    await asyncio.gather(*(engine.wait_ready() for engine in state.managed))
    logger.info("genrm-serve ready: http://%s:%s (models: %s)", settings.host, settings.port,
                ", ".join(model.name for model in state.registry))


def create_app(settings: Settings, engine_transport: httpx.AsyncBaseTransport | None = None) -> FastAPI:
    """The gateway for `settings`. `engine_transport` replaces the network under the engine clients (tests)."""
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            state = await build_state(settings, metrics, stack, engine_transport)
            app.state.genrm = state
            announcer = asyncio.create_task(_log_when_ready(state, settings))
            try:
                yield
            finally:
                announcer.cancel()

    app = FastAPI(
        title="genrm-serve",
        summary="Generative reward models for RLHF: pointwise rubric scores and position-swapped comparisons.",
        version="0.1.0",
        lifespan=lifespan,
    )
    register_error_handlers(app)
    app.include_router(router)
    app.include_router(trainer_router)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.add_middleware(AccessLogMiddleware)  # outermost: its latency and status are what the caller saw
    return app
