"""Thin routes: validate, hand the work to a judge, return its model. Logic lives in `service.judging`."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from models.formats import PAIRWISE, POINTWISE
from models.formats.sections import SectionedFormat
from service.api.errors import ERROR_RESPONSES
from service.api.protocol import (
    CompareRequest,
    CompareResponse,
    ItemStatus,
    ModelRef,
    RubricListResponse,
    RubricOut,
    RubricSetRef,
    ScoreRequest,
    ScoreResponse,
    Usage,
    _JudgingRequest,
)
from service.errors import EngineUnavailable
from service.judging.requests import resolve_rubrics, resolve_sampling
from service.judging.runner import JudgingContext
from service.state import AppState

ENGINE_STARTING_RETRY_AFTER_S = 10.0

router = APIRouter()


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.genrm
    return state


State = Annotated[AppState, Depends(get_state)]


def _judging_context(
    state: AppState, body: _JudgingRequest, judge_format: SectionedFormat, items: int, votes: int
) -> JudgingContext:
    """Everything a request's items share, checked before any engine work starts."""
    state.limits.check(items, votes)
    model = state.registry.get(body.model)
    model.require_format(judge_format.name)
    if not state.engine_available(model):
        raise EngineUnavailable(
            f"the engine of model {model.name!r} is not ready (starting or restarting); retry shortly",
            retry_after=ENGINE_STARTING_RETRY_AFTER_S,
        )
    rubrics = resolve_rubrics(state.rubrics, body.task, body.rubric_ids, body.rubrics)
    return JudgingContext(model, rubrics, resolve_sampling(model, body.sampling, judge_format), Usage())


def _count_items(state: AppState, route: str, statuses: list[ItemStatus]) -> None:
    for status in statuses:
        state.metrics.items.labels(route, status).inc()


def _model_ref(context: JudgingContext) -> ModelRef:
    return ModelRef(name=context.model.name, version=context.model.version)


def _rubric_ref(context: JudgingContext) -> RubricSetRef:
    return RubricSetRef(ids=context.rubrics.keys, hash=context.rubrics.content_hash)


@router.post("/v1/score", response_model=ScoreResponse, responses=ERROR_RESPONSES)
async def score(body: ScoreRequest, state: State) -> ScoreResponse:
    """Pointwise rubric judging: each item gets `votes` judgments, aggregated by `aggregate`."""
    context = _judging_context(state, body, POINTWISE, len(body.items), body.votes)
    items = await state.pointwise.score(body, context)
    _count_items(state, "/v1/score", [item.status for item in items])
    return ScoreResponse(model=_model_ref(context), rubric_set=_rubric_ref(context), usage=context.usage,
                         aggregate=body.aggregate, items=items)


@router.post("/v1/compare", response_model=CompareResponse, responses=ERROR_RESPONSES)
async def compare(body: CompareRequest, state: State) -> CompareResponse:
    """Pairwise judging with position-swap voting: both orders, `votes` judgments each."""
    context = _judging_context(state, body, PAIRWISE, len(body.items), body.votes)
    items = await state.pairwise.compare(body, context)
    _count_items(state, "/v1/compare", [item.status for item in items])
    return CompareResponse(model=_model_ref(context), rubric_set=_rubric_ref(context), usage=context.usage,
                           swap=body.swap, items=items)


@router.get("/v1/rubrics", response_model=RubricListResponse)
async def list_rubrics(state: State) -> RubricListResponse:
    library = state.rubrics
    return RubricListResponse(
        library_hash=library.content_hash, domains=library.domains,
        rubrics=[RubricOut(key=r.key, content_hash=r.content_hash(), rubric=r) for r in library.rubrics],
    )


@router.get("/v1/models")
async def list_models(state: State) -> dict[str, Any]:
    return {
        "default": state.registry.default,
        "models": [
            {"name": m.name, "version": m.version, "formats": sorted(m.formats), "constrained": m.constrained,
             "max_model_len": m.max_model_len, "available": state.engine_available(m)}
            for m in state.registry
        ],
    }


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive. Says nothing about engines: see /readyz."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(state: State) -> JSONResponse:
    """Ready when the rubrics are loaded and every model's engine answers its health check."""
    models = list(state.registry)
    answers = await asyncio.gather(*(model.engine.healthy() for model in models))
    # A managed engine also has to be marked ready by its supervisor: /health can answer a moment earlier.
    answers = [healthy and state.engine_available(model) for model, healthy in zip(models, answers, strict=True)]
    engines = []
    for model, healthy in zip(models, answers, strict=True):
        state.metrics.engine_up.labels(model.name).set(1 if healthy else 0)
        managed = state.managed.get(model.name)
        engines.append({
            "model": model.name, "healthy": healthy,
            "state": managed.state.value if managed else "external",
            "restarts": managed.restarts if managed else None,
        })
    ready = all(answers) and bool(state.rubrics.rubrics)
    body = {"status": "ready" if ready else "not_ready", "rubrics": len(state.rubrics.rubrics),
            "rubric_library_hash": state.rubrics.content_hash, "engines": engines}
    return JSONResponse(body, status_code=200 if ready else 503)


@router.get("/metrics")
async def metrics(state: State) -> Response:
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
