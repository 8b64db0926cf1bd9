"""What the client raises. Every error carries the service's envelope (`type`, `param`, `message`).

    JudgeClientError ............. any answer other than 200, after retries
    ├── JudgeRequestError ........ 4xx: the request is wrong; `param` names the field, `message` the fix
    ├── JudgeUnavailable ......... 429 / 503 still answered when `max_wait_s` ran out; `retry_after` says when
    └── JudgeServerError ......... other 5xx: the service or its engine failed (502, 504, a 500 is a bug)

Transport failures (refused connections, read timeouts) are httpx's own exceptions, raised unchanged.
"""

from __future__ import annotations

import httpx
from pydantic import ValidationError

from genrm_wire import ErrorInfo, ErrorResponse


class JudgeClientError(RuntimeError):
    def __init__(self, status: int, message: str, error_type: str = "unknown", param: str | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(f"{status} {error_type}: {message}" + (f" (param: {param})" if param else ""))
        self.status = status
        self.message = message
        self.type = error_type
        self.param = param
        self.retry_after = retry_after


class JudgeRequestError(JudgeClientError):
    pass


class JudgeUnavailable(JudgeClientError):
    pass


class JudgeServerError(JudgeClientError):
    pass


class JobCancelled(JudgeClientError):
    """The job was cancelled (by `cancel_job`, or by the gateway shutting down) before it finished."""


def _error_class(status: int) -> type[JudgeClientError]:
    return JudgeUnavailable if status in (429, 503) else JudgeRequestError if status < 500 else JudgeServerError


def error_from_info(info: ErrorInfo) -> JudgeClientError:
    """The exception a failed job's error stands for, as if its request had been answered with it."""
    return _error_class(info.code)(info.code, info.message, info.type, info.param)


def error_from_response(response: httpx.Response, retry_after: float | None) -> JudgeClientError:
    """The exception for a non-200 answer, from its error envelope (or its text, if it has none)."""
    status = response.status_code
    cls = _error_class(status)
    try:
        info = ErrorResponse.model_validate_json(response.content).error
    except ValidationError:
        return cls(status, response.text[:500], retry_after=retry_after)
    return cls(status, info.message, info.type, info.param, retry_after)
