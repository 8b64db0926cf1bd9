"""`JudgeClient` (sync) and `AsyncJudgeClient`: typed clients of the judging service.

    with JudgeClient("http://127.0.0.1:8000") as judge:
        answer = judge.score(ScoreRequest(task="chat", items=[ScoreItemIn(prompt="Hi", response="Hello!")]))
        answer.items[0].score

Both send the wire models of `genrm_wire` and parse the answers into them. `api_key` (default: the environment's
`GENRM_API_KEY`) is sent as `Authorization: Bearer <key>` where the service has keys configured. An answer of
429 or 503 is retried after the `Retry-After` the service sends, for at most `max_wait_s` in all; any other
non-200 answer raises a `JudgeClientError` subclass with the service's error (see `genrm_client.errors`).
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel

from genrm_client.errors import JobCancelled, JudgeRequestError, error_from_info, error_from_response
from genrm_wire import (
    CompareRequest,
    CompareResponse,
    GroupRequest,
    GroupResponse,
    ModelListResponse,
    ReadinessResponse,
    RubricListResponse,
    RubricReloadResponse,
    ScoreRequest,
    ScoreResponse,
    StepsRequest,
    StepsResponse,
    TrajectoryRequest,
    TrajectoryResponse,
)
from genrm_wire.jobs import IDEMPOTENCY_HEADER, ROUTE_OF, JobOut, JobRequest, JobResponse

DEFAULT_RETRY_AFTER_S = 1.0
JOB_POLL_S = 30.0  # one long-poll of a job (the service allows up to 60)
JOB_RESUBMITS = 3  # how often run_job submits again when the gateway has lost its job (a restart)
DEFAULT_TIMEOUT_S = 900.0
DEFAULT_MAX_WAIT_S = 600.0
RETRYABLE = (429, 503)
ResponseT = TypeVar("ResponseT", bound=BaseModel)


API_KEY_ENV = "GENRM_API_KEY"


def auth_headers(api_key: str | None, headers: dict[str, str] | None) -> dict[str, str]:
    """`headers` plus the bearer key: `api_key`, else `$GENRM_API_KEY`, else none."""
    key = api_key if api_key is not None else os.environ.get(API_KEY_ENV) or None
    merged = dict(headers or {})
    if key:
        merged.setdefault("Authorization", f"Bearer {key}")
    return merged


def request_body(request: BaseModel) -> dict[str, Any]:
    """The JSON body of a request model: fields left at None are omitted, so the service's defaults apply."""
    return request.model_dump(mode="json", exclude_none=True)


class _RetryBudget:
    """How long the client may still wait on 429/503 answers before it gives up and raises."""

    def __init__(self, max_wait_s: float) -> None:
        self._deadline = time.monotonic() + max_wait_s

    def delay(self, response: httpx.Response) -> float | None:
        """Seconds to wait before retrying `response`, or None when it is final."""
        if response.status_code not in RETRYABLE:
            return None
        retry_after = _retry_after(response)
        return retry_after if time.monotonic() + retry_after < self._deadline else None


def _retry_after(response: httpx.Response) -> float:
    try:
        return max(float(response.headers.get("Retry-After", DEFAULT_RETRY_AFTER_S)), 0.0)
    except ValueError:  # an HTTP date: not something this service sends
        return DEFAULT_RETRY_AFTER_S


def _parse(response: httpx.Response, model: type[ResponseT]) -> ResponseT:
    if response.status_code not in (200, 202):  # 202: a job accepted
        retry = _retry_after(response) if response.status_code in RETRYABLE else None
        raise error_from_response(response, retry)
    return model.model_validate_json(response.content)


def _submission(request: JobRequest, idempotency_key: str | None) -> tuple[dict[str, Any], dict[str, str]]:
    body = {"route": ROUTE_OF[type(request)], "request": request_body(request)}
    return body, ({IDEMPOTENCY_HEADER: idempotency_key} if idempotency_key is not None else {})


def _lost(error: JudgeRequestError, resubmitted: int) -> bool:
    """A poll's 404: the gateway no longer has the job (it restarted, or it expired), and run_job may submit the
    request again (with the same idempotency key, so a gateway that does have it returns it)."""
    return error.status == 404 and error.param == "job_id" and resubmitted < JOB_RESUBMITS


def _finished(job: JobOut) -> JobResponse:
    """A finished job's response, or the error it failed with, raised."""
    if job.state == "failed" and job.error is not None:
        raise error_from_info(job.error)
    if job.state == "cancelled":
        raise JobCancelled(499, f"job {job.id} was cancelled before it finished", "job_cancelled")
    response = job.response()
    assert response is not None, job
    return response


class JudgeClient:
    """Blocking client; one connection pool per instance. `transport` replaces the network (tests)."""

    def __init__(self, base_url: str, *, api_key: str | None = None, timeout_s: float = DEFAULT_TIMEOUT_S,
                 max_wait_s: float = DEFAULT_MAX_WAIT_S, headers: dict[str, str] | None = None,
                 transport: httpx.BaseTransport | None = None) -> None:
        self._http = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout_s,
                                  headers=auth_headers(api_key, headers), transport=transport)
        self.max_wait_s = max_wait_s

    @property
    def base_url(self) -> str:
        """The service this client talks to."""
        return str(self._http.base_url).rstrip("/")

    def __enter__(self) -> JudgeClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def score(self, request: ScoreRequest) -> ScoreResponse:
        """`POST /v1/score`: pointwise rubric judging."""
        return _parse(self._send("POST", "/v1/score", request_body(request)), ScoreResponse)

    def compare(self, request: CompareRequest) -> CompareResponse:
        """`POST /v1/compare`: pairwise judging with position-swap voting."""
        return _parse(self._send("POST", "/v1/compare", request_body(request)), CompareResponse)

    def groups(self, request: GroupRequest) -> GroupResponse:
        """`POST /v1/groups`: a reward for every rollout of every group (brpo, pointwise, round_robin)."""
        return _parse(self._send("POST", "/v1/groups", request_body(request)), GroupResponse)

    def steps(self, request: StepsRequest) -> StepsResponse:
        """`POST /v1/steps`: a verdict and score for every step of each solution, with its span."""
        return _parse(self._send("POST", "/v1/steps", request_body(request)), StepsResponse)

    def trajectories(self, request: TrajectoryRequest) -> TrajectoryResponse:
        """`POST /v1/trajectories`: agent trajectories scored as a whole or at their last turn, and per turn."""
        return _parse(self._send("POST", "/v1/trajectories", request_body(request)), TrajectoryResponse)

    def submit_job(self, request: JobRequest, *, idempotency_key: str | None = None) -> JobOut:
        """`POST /v1/jobs`: judge `request` in the background. The same `idempotency_key` and request return the
        first job, so a submit retried after a timeout is not judged twice."""
        body, headers = _submission(request, idempotency_key)
        return _parse(self._send("POST", "/v1/jobs", body, headers=headers), JobOut)

    def job(self, job_id: str, *, wait_s: float = 0, seen: int = 0) -> JobOut:
        """`GET /v1/jobs/{id}`; with `wait_s`, a long-poll until more than `seen` items are done or it ends."""
        return _parse(self._send("GET", f"/v1/jobs/{job_id}", params={"wait_s": wait_s, "seen": seen}), JobOut)

    def cancel_job(self, job_id: str) -> JobOut:
        return _parse(self._send("DELETE", f"/v1/jobs/{job_id}"), JobOut)

    def run_job(self, request: JobRequest, *, idempotency_key: str | None = None) -> JobResponse:
        """Submit and long-poll until the job ends: the route's response, or its error raised
        (`JobCancelled` if it was cancelled). A job the gateway lost (a restart) is submitted again, up to
        `JOB_RESUBMITS` times."""
        job, lost = self.submit_job(request, idempotency_key=idempotency_key), 0
        while not job.finished:
            try:
                job = self.job(job.id, wait_s=JOB_POLL_S, seen=job.items_done)
            except JudgeRequestError as error:
                if not _lost(error, lost):
                    raise
                job, lost = self.submit_job(request, idempotency_key=idempotency_key), lost + 1
        return _finished(job)

    def rubrics(self) -> RubricListResponse:
        return _parse(self._send("GET", "/v1/rubrics"), RubricListResponse)

    def reload_rubrics(self) -> RubricReloadResponse:
        """`POST /admin/rubrics/reload` (a key with the `admin` scope)."""
        return _parse(self._send("POST", "/admin/rubrics/reload"), RubricReloadResponse)

    def models(self) -> ModelListResponse:
        return _parse(self._send("GET", "/v1/models"), ModelListResponse)

    def readiness(self) -> ReadinessResponse:
        """`GET /readyz`, whatever its status: a `not_ready` service answers 503 with this body."""
        response = self._http.get("/readyz")
        if response.status_code == 503:
            return ReadinessResponse.model_validate_json(response.content)
        return _parse(response, ReadinessResponse)

    def _send(self, method: str, route: str, body: dict[str, Any] | None = None, *,
              params: dict[str, Any] | None = None, headers: dict[str, str] | None = None) -> httpx.Response:
        budget = _RetryBudget(self.max_wait_s)
        while True:
            response = self._http.request(method, route, json=body, params=params, headers=headers)
            delay = budget.delay(response)
            if delay is None:
                return response
            time.sleep(delay)


class AsyncJudgeClient:
    """The same API as `JudgeClient`, for asyncio trainers: `await judge.score(...)`."""

    def __init__(self, base_url: str, *, api_key: str | None = None, timeout_s: float = DEFAULT_TIMEOUT_S,
                 max_wait_s: float = DEFAULT_MAX_WAIT_S, headers: dict[str, str] | None = None,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._http = httpx.AsyncClient(base_url=base_url.rstrip("/"), timeout=timeout_s,
                                       headers=auth_headers(api_key, headers), transport=transport)
        self.max_wait_s = max_wait_s

    async def __aenter__(self) -> AsyncJudgeClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def score(self, request: ScoreRequest) -> ScoreResponse:
        """`POST /v1/score`: pointwise rubric judging."""
        return _parse(await self._send("POST", "/v1/score", request_body(request)), ScoreResponse)

    async def compare(self, request: CompareRequest) -> CompareResponse:
        """`POST /v1/compare`: pairwise judging with position-swap voting."""
        return _parse(await self._send("POST", "/v1/compare", request_body(request)), CompareResponse)

    async def groups(self, request: GroupRequest) -> GroupResponse:
        """`POST /v1/groups`: a reward for every rollout of every group (brpo, pointwise, round_robin)."""
        return _parse(await self._send("POST", "/v1/groups", request_body(request)), GroupResponse)

    async def steps(self, request: StepsRequest) -> StepsResponse:
        """`POST /v1/steps`: a verdict and score for every step of each solution, with its span."""
        return _parse(await self._send("POST", "/v1/steps", request_body(request)), StepsResponse)

    async def trajectories(self, request: TrajectoryRequest) -> TrajectoryResponse:
        """`POST /v1/trajectories`: agent trajectories scored as a whole or at their last turn, and per turn."""
        return _parse(await self._send("POST", "/v1/trajectories", request_body(request)), TrajectoryResponse)

    async def submit_job(self, request: JobRequest, *, idempotency_key: str | None = None) -> JobOut:
        body, headers = _submission(request, idempotency_key)
        return _parse(await self._send("POST", "/v1/jobs", body, headers=headers), JobOut)

    async def job(self, job_id: str, *, wait_s: float = 0, seen: int = 0) -> JobOut:
        return _parse(await self._send("GET", f"/v1/jobs/{job_id}", params={"wait_s": wait_s, "seen": seen}),
                      JobOut)

    async def cancel_job(self, job_id: str) -> JobOut:
        return _parse(await self._send("DELETE", f"/v1/jobs/{job_id}"), JobOut)

    async def run_job(self, request: JobRequest, *, idempotency_key: str | None = None) -> JobResponse:
        job, lost = await self.submit_job(request, idempotency_key=idempotency_key), 0
        while not job.finished:
            try:
                job = await self.job(job.id, wait_s=JOB_POLL_S, seen=job.items_done)
            except JudgeRequestError as error:
                if not _lost(error, lost):
                    raise
                job, lost = await self.submit_job(request, idempotency_key=idempotency_key), lost + 1
        return _finished(job)

    async def rubrics(self) -> RubricListResponse:
        return _parse(await self._send("GET", "/v1/rubrics"), RubricListResponse)

    async def reload_rubrics(self) -> RubricReloadResponse:
        """`POST /admin/rubrics/reload` (a key with the `admin` scope)."""
        return _parse(await self._send("POST", "/admin/rubrics/reload"), RubricReloadResponse)

    async def models(self) -> ModelListResponse:
        return _parse(await self._send("GET", "/v1/models"), ModelListResponse)

    async def readiness(self) -> ReadinessResponse:
        """`GET /readyz`, whatever its status: a `not_ready` service answers 503 with this body."""
        response = await self._http.get("/readyz")
        if response.status_code == 503:
            return ReadinessResponse.model_validate_json(response.content)
        return _parse(response, ReadinessResponse)

    async def _send(self, method: str, route: str, body: dict[str, Any] | None = None, *,
                    params: dict[str, Any] | None = None, headers: dict[str, str] | None = None) -> httpx.Response:
        budget = _RetryBudget(self.max_wait_s)
        while True:
            response = await self._http.request(method, route, json=body, params=params, headers=headers)
            delay = budget.delay(response)
            if delay is None:
                return response
            await asyncio.sleep(delay)
