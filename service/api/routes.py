"""Thin routes: validate, hand the work to a judge, return its model. Logic lives in `service.judging`."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from models.formats import PAIRWISE, POINTWISE
from models.formats.sections import SectionedFormat
from service.api.cancellation import cancel_on_disconnect
from service.api.errors import ERROR_RESPONSES
from service.api.protocol import (
    CompareRequest,
    CompareResponse,
    ModelRef,
    RubricListResponse,
    RubricOut,
    RubricSetRef,
    ScoreRequest,
    ScoreResponse,
    Usage,
    _ItemOut,
    _JudgingRequest,
)
from service.errors import InvalidRequest
from service.judging.registry import JudgeModel
from service.judging.requests import resolve_rubrics, resolve_sampling
from service.judging.runner import JudgingContext
from service.state import AppState

router = APIRouter()


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.genrm
    return state


State = Annotated[AppState, Depends(get_state)]
TimeoutHeader = Annotated[
    float | None,
    Header(alias="X-Request-Timeout", gt=0, le=3600, description="Deadline in seconds; the `timeout_s` field wins."),
]


def _judging_context(
    state: AppState,
    body: _JudgingRequest,
    judge_format: SectionedFormat,
    counts: tuple[int, int],
    timeout_header: float | None,
) -> JudgingContext:
    """Everything a request's items share, checked before any engine work starts."""
    state.limits.check(*counts)
    model = state.registry.get(body.model)
    model.require_format(judge_format.name)
    rubrics = resolve_rubrics(state.rubrics, body.task, body.rubric_ids, body.rubrics)
    sampling = resolve_sampling(model, body.sampling, judge_format)
    if sampling.temperature == 0 and counts[1] > 1:
        raise InvalidRequest(
            f"votes={counts[1]} with temperature 0 (greedy) would repeat one judgment, and vLLM refuses n > 1 "
            "when greedy; use votes=1, or a temperature above 0 for independent votes",
            param="votes",
        )
    timeout_s = body.timeout_s or timeout_header or model.request_timeout_s
    return JudgingContext(model, rubrics, sampling, Usage(), time.monotonic() + timeout_s, timeout_s)


def _count_items(state: AppState, route: str, items: Sequence[_ItemOut]) -> None:
    for item in items:
        state.metrics.items.labels(route, item.status).inc()
        if item.status == "ok" and not item.cached and item.duplicate_of is None:
            state.metrics.votes_used.labels(route).observe(item.votes_used)


def _model_ref(context: JudgingContext) -> ModelRef:
    return ModelRef(name=context.model.name, version=context.model.version)


def _rubric_ref(context: JudgingContext) -> RubricSetRef:
    return RubricSetRef(ids=context.rubrics.keys, hash=context.rubrics.content_hash)


@router.post("/v1/score", response_model=ScoreResponse, responses=ERROR_RESPONSES)
async def score(body: ScoreRequest, state: State, request: Request, timeout: TimeoutHeader = None) -> ScoreResponse:
    """Pointwise rubric judging: each item gets `votes` judgments, aggregated by `aggregate`."""
    context = _judging_context(state, body, POINTWISE, (len(body.items), body.votes), timeout)
    with context.model.admission.admit(len(body.items)):
        work = state.pointwise.score(body, context)
        items = await cancel_on_disconnect(request, work, state.metrics, "/v1/score")
    _count_items(state, "/v1/score", items)
    return ScoreResponse(model=_model_ref(context), rubric_set=_rubric_ref(context), usage=context.usage,
                         aggregate=body.aggregate, items=items)


@router.post("/v1/compare", response_model=CompareResponse, responses=ERROR_RESPONSES)
async def compare(
    body: CompareRequest, state: State, request: Request, timeout: TimeoutHeader = None
) -> CompareResponse:
    """Pairwise judging with position-swap voting: both orders, `votes` judgments each."""
    context = _judging_context(state, body, PAIRWISE, (len(body.items), body.votes), timeout)
    with context.model.admission.admit(len(body.items) * (2 if body.swap else 1)):
        work = state.pairwise.compare(body, context)
        items = await cancel_on_disconnect(request, work, state.metrics, "/v1/compare")
    _count_items(state, "/v1/compare", items)
    return CompareResponse(model=_model_ref(context), rubric_set=_rubric_ref(context), usage=context.usage,
                           swap=body.swap, items=items)


@router.get("/v1/rubrics", response_model=RubricListResponse)
async def list_rubrics(state: State) -> RubricListResponse:
    library = state.rubrics
    return RubricListResponse(
        library_hash=library.content_hash, domains=library.domains,
        rubrics=[RubricOut(key=r.key, content_hash=r.content_hash(), rubric=r) for r in library.rubrics],
    )


def _engine_report(model: JudgeModel) -> list[dict[str, Any]]:
    return [
        {"model": model.name, "engine": m.name, "state": m.state, "in_flight": m.in_flight,
         "queued": m.outstanding - m.in_flight, "failures": m.failures,
         "restarts": m.managed.restarts if m.managed is not None else None}
        for m in model.engine.members
    ]


@router.get("/v1/models")
async def list_models(state: State) -> dict[str, Any]:
    return {
        "default": state.registry.default,
        "models": [
            {"name": m.name, "version": m.version, "formats": sorted(m.formats), "constrained": m.constrained,
             "max_model_len": m.max_model_len, "available": m.engine.any_available(), "engines": _engine_report(m)}
            for m in state.registry
        ],
    }


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive. Says nothing about engines: see /readyz."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(state: State) -> JSONResponse:
    """Ready (200) when the rubrics are loaded and every model has an engine in rotation; `degraded` (still 200)
    when some engines are out; `not_ready` (503) when a model has none. Each engine's state is listed."""
    models = list(state.registry)
    await asyncio.gather(*(model.engine.check_health() for model in models))
    engines = [report for model in models for report in _engine_report(model)]
    servable = all(model.engine.any_available() for model in models) and bool(state.rubrics.rubrics)
    every_engine = all(report["state"] == "ready" for report in engines)
    status = "not_ready" if not servable else "ready" if every_engine else "degraded"
    body = {"status": status, "rubrics": len(state.rubrics.rubrics),
            "rubric_library_hash": state.rubrics.content_hash, "engines": engines}
    return JSONResponse(body, status_code=200 if servable else 503)


@router.get("/metrics")
async def metrics(state: State) -> Response:
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
