"""Thin routes: validate, translate (`translation`), hand the work to a judge, return the response model.
Logic lives in `service.judging`."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, TypeVar

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from genrm_wire import (
    CompareRequest,
    CompareResponse,
    EngineStatus,
    GroupRequest,
    GroupResponse,
    HealthResponse,
    ModelInfo,
    ModelListResponse,
    ReadinessResponse,
    RubricListResponse,
    RubricOut,
    ScoreRequest,
    ScoreResponse,
    ScrapeTargetGroup,
)
from genrm_wire.steps import StepsRequest, StepsResponse
from genrm_wire.trajectories import TrajectoryRequest, TrajectoryResponse
from models.formats import PAIRWISE, POINTWISE
from models.formats.trajectory import TRAJECTORY
from service.api import steps_translation, trajectory_translation, translation
from service.api.deps import CallerDep, State, TimeoutHeader
from service.api.discovery import engine_targets
from service.api.errors import (
    JUDGING_ERRORS,
    LISTING_ERRORS,
    METRICS_ERRORS,
    READINESS_ERRORS,
    STATUS_ERRORS,
)
from service.judging.context import JudgingContext
from service.judging.items import ItemOutcome
from service.judging.registry import JudgeModel
from service.orchestration.admitting import admitted
from service.orchestration.cancellation import cancel_on_disconnect
from service.orchestration.rewarding import GROUPS_ROUTE, Caller, judge_groups
from service.state import AppState
from service.verifying.planning import (
    check_references,
    engine_requests,
    judge_format,
    refuse_unread_references,
    verification_plan,
)

router = APIRouter()
OutcomeT = TypeVar("OutcomeT", bound=ItemOutcome)


def _count_items(state: AppState, route: str, items: Sequence[ItemOutcome]) -> None:
    for item in items:
        state.metrics.items.labels(route, item.status).inc()
        if item.status == "ok" and not item.cached and item.duplicate_of is None:
            state.metrics.votes_used.labels(route).observe(item.votes_used)


async def _run_batch(state: AppState, caller: Caller, route: str, context: JudgingContext, in_flight: int,
                     votes: int, work: Callable[[], Coroutine[Any, Any, list[OutcomeT]]]) -> list[OutcomeT]:
    """A batch route's work: admitted (or refused 429/503), cancelled if the caller goes, its items counted and
    charged to the caller's key."""
    async with admitted(state.quotas, state.metrics, caller.key, context, in_flight, votes):
        outcomes = await cancel_on_disconnect(caller.disconnected, work(), state.metrics, route)
    _count_items(state, route, outcomes)
    caller.record(context, len(outcomes))
    return outcomes


@router.post("/v1/score", response_model=ScoreResponse, responses=JUDGING_ERRORS)
async def score(body: ScoreRequest, state: State, caller: CallerDep,
                timeout: TimeoutHeader = None) -> ScoreResponse:
    """Pointwise rubric judging: each item gets `votes` judgments, aggregated by `aggregate`."""
    plan = verification_plan(body.verify, body.adaptive)
    references = [item.reference for item in body.items]
    refuse_unread_references(plan, references)
    check_references(plan, references, lambda index: f"items.{index}.reference")
    judged_in = judge_format(plan)
    orders = 1 if judged_in is POINTWISE else 2
    context = state.resolver.context(body, judged_in, len(body.items), body.votes, timeout, orders=orders)
    items, settings = translation.score_items(body.items), translation.score_settings(body, plan)
    outcomes = await _run_batch(state, caller, "/v1/score", context, engine_requests(plan, len(body.items)),
                                body.votes, lambda: state.scorer.judge_batch(items, settings, context))
    return ScoreResponse(
        model=translation.model_ref(context), rubric_set=translation.rubric_ref(context),
        usage=translation.usage_out(context.usage), flag_detector=context.model.flag_detector.version,
        aggregate=body.aggregate, verdict=body.verdict,
        items=[translation.score_item_out(outcome) for outcome in outcomes],
    )


@router.post("/v1/compare", response_model=CompareResponse, responses=JUDGING_ERRORS)
async def compare(
    body: CompareRequest, state: State, caller: CallerDep, timeout: TimeoutHeader = None
) -> CompareResponse:
    """Pairwise judging with position-swap voting: both orders, `votes` judgments each."""
    orders = 2 if body.swap else 1
    context = state.resolver.context(body, PAIRWISE, len(body.items), body.votes, timeout, orders=orders)
    items, settings = translation.compare_items(body.items), translation.compare_settings(body)
    outcomes = await _run_batch(state, caller, "/v1/compare", context, len(body.items) * orders, body.votes,
                                lambda: state.pairwise.judge_batch(items, settings, context))
    return CompareResponse(
        model=translation.model_ref(context), rubric_set=translation.rubric_ref(context),
        usage=translation.usage_out(context.usage), flag_detector=context.model.flag_detector.version,
        swap=body.swap, verdict=body.verdict,
        items=[translation.compare_item_out(outcome) for outcome in outcomes],
    )


@router.post("/v1/groups", response_model=GroupResponse, responses=JUDGING_ERRORS)
async def groups(body: GroupRequest, state: State, caller: CallerDep,
                 timeout: TimeoutHeader = None) -> GroupResponse:
    """Group rewards for RL: every rollout of every group gets a reward from one call (`brpo` against a drawn
    or given reference, `pointwise` scores, `round_robin` over all pairs), failed ones filled by `on_failure`."""
    plan = verification_plan(body.verify, body.adaptive)
    settings = translation.group_settings(body, plan)
    run = await judge_groups(state, caller, GROUPS_ROUTE, body, translation.groups_in(body), settings, timeout)
    return GroupResponse(
        model=translation.model_ref(run.context), rubric_set=translation.rubric_ref(run.context),
        usage=translation.usage_out(run.context.usage), flag_detector=run.context.model.flag_detector.version,
        mode=body.mode, verdict=body.verdict,
        groups=translation.groups_out(run.results, settings.handling),
        failures=translation.failure_report(run.failed, run.retries, settings.handling),
    )


@router.post("/v1/steps", response_model=StepsResponse, responses=JUDGING_ERRORS)
async def steps(body: StepsRequest, state: State, caller: CallerDep,
                timeout: TimeoutHeader = None) -> StepsResponse:
    """Process rewards: each solution cut into steps (`split`), a verdict and a score for every step with its span
    in the solution, and the aggregates a trainer reads (`min`, `mean`, `last`, `first_error`)."""
    items = steps_translation.step_items(body.items)
    requests = steps_translation.engine_requests(body, items)
    context = state.resolver.context(body, steps_translation.widest_format(body, items), len(items), body.votes,
                                     timeout, orders=-(-requests // len(items)))
    settings = steps_translation.step_settings(body)
    outcomes = await _run_batch(state, caller, "/v1/steps", context, requests, body.votes,
                                lambda: state.steps.judge_batch(items, settings, context))
    return StepsResponse(
        model=translation.model_ref(context), rubric_set=translation.rubric_ref(context),
        usage=translation.usage_out(context.usage), flag_detector=context.model.flag_detector.version,
        strategy=body.strategy, verdict=body.verdict,
        items=[steps_translation.step_item_out(outcome) for outcome in outcomes],
    )


@router.post("/v1/trajectories", response_model=TrajectoryResponse, responses=JUDGING_ERRORS)
async def trajectories(body: TrajectoryRequest, state: State, caller: CallerDep,
                       timeout: TimeoutHeader = None) -> TrajectoryResponse:
    """Agent rewards: each trajectory (assistant, tool and user turns, OpenAI chat shape) scored 0-10 as a whole
    or at its last turn (`view`), and per assistant turn (`turns`), each turn with the history before it."""
    items = trajectory_translation.trajectory_items(body.items)
    requests = trajectory_translation.engine_requests(items)
    context = state.resolver.context(body, TRAJECTORY, len(items), body.votes, timeout,
                                     orders=-(-requests // len(items)))
    settings = trajectory_translation.trajectory_settings(body)
    outcomes = await _run_batch(state, caller, "/v1/trajectories", context, requests, body.votes,
                                lambda: state.trajectories.judge_batch(items, settings, context))
    return TrajectoryResponse(
        model=translation.model_ref(context), rubric_set=translation.rubric_ref(context),
        usage=translation.usage_out(context.usage), flag_detector=context.model.flag_detector.version,
        items=[trajectory_translation.trajectory_item_out(outcome) for outcome in outcomes],
    )


@router.get("/v1/rubrics", response_model=RubricListResponse, responses=LISTING_ERRORS)
async def list_rubrics(state: State) -> RubricListResponse:
    library = state.rubrics
    return RubricListResponse(
        library_hash=library.content_hash, domains=library.domains,
        rubrics=[RubricOut(key=r.key, content_hash=r.content_hash(), rubric=r) for r in library.rubrics],
    )


def _engine_report(model: JudgeModel) -> list[EngineStatus]:
    return [
        EngineStatus.model_validate({
            "model": model.name, "engine": m.name, "state": m.state, "in_flight": m.in_flight,
            "queued": m.outstanding - m.in_flight, "failures": m.failures,
            "restarts": m.managed.restarts if m.managed is not None else None,
        })
        for m in model.engine.members
    ]


@router.get("/v1/models", response_model=ModelListResponse, responses=LISTING_ERRORS)
async def list_models(state: State) -> ModelListResponse:
    return ModelListResponse(
        default=state.registry.default,
        models=[
            ModelInfo.model_validate({
                "name": m.name, "version": m.version, "formats": sorted(m.formats), "constrained": m.constrained,
                "max_model_len": m.max_model_len, "available": m.engine.any_available(),
                "engines": _engine_report(m),
            })
            for m in state.registry
        ],
    )


@router.get("/healthz", response_model=HealthResponse, responses=STATUS_ERRORS)
async def healthz() -> HealthResponse:
    """The process is alive. Says nothing about engines: see /readyz."""
    return HealthResponse()


@router.get("/readyz", response_model=ReadinessResponse, responses=READINESS_ERRORS)
async def readyz(state: State, request: Request) -> JSONResponse:
    """Ready (200) when the rubrics are loaded and every model has an engine in rotation; `degraded` (still 200)
    when some engines are out; `not_ready` (503, same body) when a model has none; `draining` (503) once SIGTERM
    arrived. Each engine's state is listed."""
    models = list(state.registry)
    await asyncio.gather(*(model.engine.check_health() for model in models))
    engines = [report for model in models for report in _engine_report(model)]
    servable = all(model.engine.any_available() for model in models) and bool(state.rubrics.rubrics)
    every_engine = all(report.state == "ready" for report in engines)
    draining = request.app.state.drain.draining
    servable &= not draining
    body = ReadinessResponse(
        status="draining" if draining else "not_ready" if not servable else "ready" if every_engine else "degraded",
        rubrics=len(state.rubrics.rubrics), rubric_library_hash=state.rubrics.content_hash, engines=engines,
    )
    return JSONResponse(body.model_dump(mode="json"), status_code=200 if servable else 503)


@router.get("/prometheus/targets", response_model=list[ScrapeTargetGroup], responses=METRICS_ERRORS)
async def prometheus_targets(state: State, request: Request) -> list[ScrapeTargetGroup]:
    """Prometheus HTTP service discovery (`http_sd_configs`): every engine's metrics address, labelled with its
    model, version and engine, so one scrape job covers however many engines the gateway runs."""
    return engine_targets(state.registry, request.url.hostname or "127.0.0.1")


@router.get("/metrics", response_class=PlainTextResponse,
            responses={200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}},
                             "description": "Prometheus text exposition."}, **METRICS_ERRORS})
async def metrics(state: State) -> Response:
    """Prometheus text exposition of the gateway's metrics."""
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
