"""The job routes (`genrm_wire.jobs`): a judging request submitted as a job, polled, cancelled.

A job runs each item (each group, for `/v1/groups`) as that route's request with one item, through the route's
own handler (`service/api/routes.py`), so a job's result is what the synchronous route answers, item for item;
what differs: deduplication is per item (the judgment cache still serves repeats) and a request-level mistake the
route finds while judging (an unknown model, a rubric it cannot resolve) fails the job instead of the submit.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from genrm_wire import CompareRequest, GroupRequest, ScoreRequest
from genrm_wire.jobs import ITEMS_FIELD, JobOut, JobRoute, JobSubmit
from genrm_wire.steps import StepsRequest
from genrm_wire.trajectories import TrajectoryRequest
from service.api import routes
from service.api.deps import CallerDep, State
from service.api.errors import JOB_ERRORS, JOB_READ_ERRORS
from service.api.translation import item_id
from service.orchestration.jobs import Chunk
from service.orchestration.limits import check_unique_ids
from service.orchestration.rewarding import Caller
from service.state import AppState

router = APIRouter()
Handler = Callable[[Any, AppState, Caller, float | None], Awaitable[BaseModel]]


@dataclass(frozen=True)
class JobRouteSpec:
    request_model: type[BaseModel]
    handler: Handler


SPECS: dict[str, JobRouteSpec] = {
    "score": JobRouteSpec(ScoreRequest, routes.score),
    "compare": JobRouteSpec(CompareRequest, routes.compare),
    "groups": JobRouteSpec(GroupRequest, routes.groups),
    "steps": JobRouteSpec(StepsRequest, routes.steps),
    "trajectories": JobRouteSpec(TrajectoryRequest, routes.trajectories),
}
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", min_length=1, max_length=255,
                                              description="The same key and request (per API key) return the "
                                              "first job: a retried submit is not judged twice.")]


@router.post("/v1/jobs", response_model=JobOut, status_code=202, responses=JOB_ERRORS)
async def submit_job(body: JobSubmit, state: State, caller: CallerDep, response: Response,
                     idempotency_key: IdempotencyKey = None) -> JobOut:
    """Run a judging request in the background (202 with the job; 200 with the existing job when the
    Idempotency-Key was seen with the same request). Poll `GET /v1/jobs/{id}`."""
    request = _validated(body.route, body.request)
    field = ITEMS_FIELD[body.route]
    items = getattr(request, field)
    state.resolver.limits.check(len(items), 1, items_param=f"request.{field}")
    check_unique_ids(items, f"request.{field}")
    spec = SPECS[body.route]
    chunks: list[Chunk] = [partial(_run_chunk, spec, state, _one_item(request, field, item, index))
                           for index, item in enumerate(items)]
    job, created = state.jobs.submit(caller.key, body.route, body.request, idempotency_key, chunks,
                                     partial(_merge, field), partial(_item_of, field))
    if not created:
        response.status_code = 200
    return job.view()


@router.get("/v1/jobs/{job_id}", response_model=JobOut, responses=JOB_READ_ERRORS)
async def get_job(state: State, caller: CallerDep, job_id: Annotated[str, Path(max_length=64)],
                  wait_s: Annotated[float, Query(ge=0, le=60, description="Long-poll: wait up to this long for "
                                                 "progress past `seen` items, or the job's end.")] = 0,
                  seen: Annotated[int, Query(ge=0, description="Items done that the caller has already read.")] = 0,
                  ) -> JobOut:
    job = state.jobs.get(caller.key, job_id)
    if wait_s > 0:
        await state.jobs.wait(job, seen, wait_s)
    return job.view()


@router.delete("/v1/jobs/{job_id}", response_model=JobOut, responses=JOB_READ_ERRORS)
async def cancel_job(state: State, caller: CallerDep, job_id: Annotated[str, Path(max_length=64)]) -> JobOut:
    """Cancel a queued or running job (its items in flight are cancelled at the engine); an ended job is
    returned as it ended."""
    job = state.jobs.get(caller.key, job_id)
    await state.jobs.cancel(job)
    return job.view()


def _validated(route: JobRoute, request: dict[str, Any]) -> BaseModel:
    """The request as its route validates it (JSON mode, strict); a mistake is the usual 422, under `request.`."""
    try:
        return SPECS[route].request_model.model_validate_json(json.dumps(request))
    except ValidationError as error:
        problems = [{**problem, "loc": ("body", "request", *problem["loc"])} for problem in error.errors()]
        raise RequestValidationError(problems) from error


def _one_item(request: BaseModel, field: str, item: BaseModel, index: int) -> BaseModel:
    """The request with only this item, its id fixed to what the whole request would have given it."""
    if "id" in type(item).model_fields:
        item = item.model_copy(update={"id": item_id(getattr(item, "id", None), index)})
    return request.model_copy(update={field: [item]})


async def _run_chunk(spec: JobRouteSpec, state: AppState, request: BaseModel, caller: Caller) -> BaseModel:
    return await spec.handler(request, state, caller, None)


def _item_of(field: str, response: BaseModel) -> dict[str, Any]:
    item: dict[str, Any] = response.model_dump(mode="json")[field][0]
    return item


def _merge(field: str, responses: list[BaseModel]) -> dict[str, Any]:
    """One response from the per-item ones: the first's fields, every item in order, usage (and for groups the
    failure counts) summed."""
    bodies = [response.model_dump(mode="json") for response in responses]
    merged = dict(bodies[0])
    merged[field] = [body[field][0] for body in bodies]
    merged["usage"] = {key: sum(body["usage"][key] for body in bodies) for key in bodies[0]["usage"]}
    if "failures" in merged:
        failures = dict(merged["failures"])
        for key in ("failed", "retried", "recovered"):
            failures[key] = sum(body["failures"][key] for body in bodies)
        filled: dict[str, int] = {}
        for body in bodies:
            for how, count in body["failures"]["filled"].items():
                filled[how] = filled.get(how, 0) + count
        failures["filled"] = filled
        merged["failures"] = failures
    return merged
