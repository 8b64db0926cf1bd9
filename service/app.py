"""`create_app(settings)`: the FastAPI gateway. Nothing is built at import time."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import httpx
from fastapi import FastAPI

from service.api.access_log import AccessLogMiddleware
from service.api.admin import router as admin_router
from service.api.authentication import AuthMiddleware
from service.api.body_guard import BodyGuardMiddleware
from service.api.draining import Drain, DrainMiddleware
from service.api.errors import register_error_handlers
from service.api.jobs import router as job_router
from service.api.metrics_middleware import MetricsMiddleware
from service.api.openapi import describe_service
from service.api.routes import router
from service.api.trainers import router as trainer_router
from service.api.unread_body import UnreadBodyMiddleware
from service.auth.api_keys import Keyring
from service.metrics import Metrics
from service.settings import Settings
from service.state import AppState, build_state

logger = logging.getLogger(__name__)


def _reload_on_sighup(state: AppState) -> None:
    """SIGHUP reloads the rubric library, as `POST /admin/rubrics/reload` does (only where signals can be had:
    the main thread of a process the gateway owns, so not an app embedded in tests' threads)."""
    loop = asyncio.get_running_loop()

    def reload() -> None:
        task = loop.create_task(state.rubric_store.reload())
        task.add_done_callback(lambda done: done.exception())  # a refusal is logged by the store

    with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
        loop.add_signal_handler(signal.SIGHUP, reload)


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
            _reload_on_sighup(state)
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
    app.state.drain = Drain(settings.drain_grace_s)
    register_error_handlers(app)
    app.include_router(router)
    app.include_router(trainer_router)
    app.include_router(job_router)
    app.include_router(admin_router)
    # Innermost first: the body is checked only for a caller with a key, and a draining gateway refuses all.
    app.add_middleware(BodyGuardMiddleware, limits=settings.limits)
    app.add_middleware(AuthMiddleware, keyring=Keyring(settings.api_keys), protect_metrics=settings.protect_metrics,
                       metrics=metrics)
    app.add_middleware(DrainMiddleware, drain=app.state.drain)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.add_middleware(UnreadBodyMiddleware, limits=settings.limits)  # an early answer still reads the body
    app.add_middleware(AccessLogMiddleware)  # outermost: its latency and status are what the caller saw
    describe_service(app, settings)
    return app
