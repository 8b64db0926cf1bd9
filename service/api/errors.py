"""The one error envelope, `{"error": {"message", "type", "param", "code"}}`, and the handlers that emit it.

Handlers are registered per exception type (not as middleware) so that handled errors still pass through the
metrics middleware and `genrm_http_requests_total{status_class}` tells the truth. Order: request validation
(422, with the first bad field as `param`), then our `ServiceError` tree via `STATUS`, then Starlette's HTTP
errors (404 for unknown routes, 405), then anything else as a 500 that is logged as the bug it is.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from genrm_wire import ErrorInfo, ErrorResponse, ReadinessResponse
from service.errors import ServiceError, status_of

logger = logging.getLogger(__name__)

_DESCRIPTIONS: dict[int, str] = {
    401: "No API key, or not a valid one (send `Authorization: Bearer <key>`); only when keys are configured.",
    403: "The API key lacks the scope this route needs.",
    404: "Unknown model, rubric or job; `param` names it.",
    413: "Over a request limit (body bytes, items, votes, text length, token budget); `param` names it.",
    415: "The body is not JSON (`Content-Type: application/json`).",
    422: "Invalid request; `param` names the field and `message` the fix.",
    429: "Overloaded, over the key's rate or over its fair share; retry after the Retry-After header's seconds.",
    499: "The client disconnected; its engine work was cancelled (nobody reads this answer).",
    500: "A bug in the service.",
    502: "The engine failed or answered garbage.",
    503: "No engine available (starting, restarting or unhealthy), or the gateway is draining; see Retry-After.",
    504: "The engine did not answer in time.",
}


def _responses(*statuses: int, model: type[BaseModel] = ErrorResponse) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": model, "description": _DESCRIPTIONS[status]} for status in statuses}


# Every status a judging route can answer besides 200 (keys, body limits, the `ServiceError` tree, validation,
# draining, the catch-all).
JUDGING_ERRORS = _responses(401, 403, 404, 413, 415, 422, 429, 499, 500, 502, 503, 504)
# Submitting a job: keys, body limits, validation, too many jobs, draining, a bug (the job's own errors come
# with the job).
JOB_ERRORS = _responses(401, 403, 413, 415, 422, 429, 500, 503)
# Reading or cancelling a job: keys, an unknown job (or another key's), a bad query, draining, a bug.
JOB_READ_ERRORS = _responses(401, 403, 404, 422, 500, 503)
# The listing routes: keys, draining, or a bug.
LISTING_ERRORS = _responses(401, 403, 500, 503)
# The probes fail only by a bug; /metrics also by a missing key where `protect_metrics` is on.
STATUS_ERRORS = _responses(500)
METRICS_ERRORS = _responses(401, 500)
ADMIN_ERRORS = _responses(401, 403, 413, 415, 422, 500, 503)
# `/readyz` answers 503 with its own body, not the error envelope.
READINESS_ERRORS = {503: {"model": ReadinessResponse, "description": "A model has no engine in rotation, or the "
                          "gateway is draining."}, **_responses(500)}


def error_response(
    status: int, message: str, error_type: str, param: str | None = None, retry_after: float | None = None
) -> JSONResponse:
    body = ErrorResponse(error=ErrorInfo(message=message, type=error_type, param=param, code=status))
    headers = {"Retry-After": str(math.ceil(retry_after))} if retry_after is not None else None
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


def _field_path(problem: Mapping[str, Any]) -> str:
    """`items.0.response` for a field; `body` when the body itself is not JSON (its loc is a byte offset)."""
    if problem.get("type") == "json_invalid":
        return "body"
    parts = [str(part) for part in problem["loc"] if part != "body"]
    return ".".join(parts) or "body"


async def _validation_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    problems = error.errors()
    first: Mapping[str, Any] = problems[0] if problems else {"loc": ("body",), "msg": "invalid request"}
    described = "; ".join(f"`{_field_path(p)}`: {p['msg']}" for p in problems[:10])
    more = f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""
    return error_response(
        422, f"invalid request: {described}{more}. See GET /docs for the schema.", "invalid_request",
        param=_field_path(first),
    )


async def _service_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ServiceError)
    status = status_of(error)
    if status >= 500:
        logger.warning("%s: %s", type(error).__name__, error.message)
    return error_response(status, error.message, error.code, error.param, error.retry_after)


async def _http_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    if error.status_code == 400:  # FastAPI's answer to a body it cannot decode (not UTF-8): like invalid JSON
        return error_response(422, "the body is not valid JSON (UTF-8 encoded); see GET /docs for the schema",
                              "invalid_request", param="body")
    error_type = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "http_error")
    return error_response(error.status_code, str(error.detail), error_type)


async def _unexpected_error(_: Request, error: Exception) -> JSONResponse:
    logger.exception("unhandled error (a bug)", exc_info=error)
    return error_response(500, "internal error; this is a bug in the service", "internal_error")


def register_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(ServiceError, _service_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
