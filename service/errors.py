"""The service's exceptions. Raise them; never return error objects. `STATUS` maps each type to HTTP.

    ServiceError ........................ 500  a bug: something we did not expect
    ├── ClientError ..................... 400  the request is wrong; the message says how to fix it
    │   ├── InvalidRequest .............. 422  a field's value is not acceptable (`param` names the field)
    │   │   └── RubricLibraryRefused .... 422  a rubric reload was refused; the old library stays in service
    │   ├── NotFound .................... 404  a named model or rubric does not exist
    │   ├── PayloadTooLarge ............. 413  more items or votes than a request may carry
    │   └── ClientClosedRequest ......... 499  the client went away; its engine work was cancelled
    ├── Overloaded ...................... 429  too much work queued; retry after `retry_after` seconds
    └── UpstreamError ................... 502  the engine refused the request (4xx) or answered garbage
        ├── JudgmentFailed .............. 502  a reward route's item failed under the `error` failure policy
        ├── EngineServerError ........... 502  the engine failed (5xx): another engine may succeed
        ├── EngineUnavailable ........... 503  no engine can take work now; retry after `retry_after`
        └── EngineTimeout ............... 504  the engine did not answer in time

Per-item failures inside a batch are not exceptions at this level: they become that item's `status` and
`error`, and the rest of the batch succeeds.
"""

from __future__ import annotations


class ServiceError(Exception):
    code = "internal_error"

    def __init__(self, message: str, *, param: str | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.retry_after = retry_after


class ClientError(ServiceError):
    code = "bad_request"


class InvalidRequest(ClientError):
    code = "invalid_request"


class RubricLibraryRefused(InvalidRequest):
    code = "rubric_library_refused"


class NotFound(ClientError):
    code = "not_found"


class PayloadTooLarge(ClientError):
    code = "payload_too_large"


class ClientClosedRequest(ClientError):
    code = "client_closed_request"


class Overloaded(ServiceError):
    code = "overloaded"


class UpstreamError(ServiceError):
    code = "engine_error"


class JudgmentFailed(UpstreamError):
    code = "judgment_failed"


class EngineServerError(UpstreamError):
    code = "engine_server_error"


class EngineUnavailable(UpstreamError):
    code = "engine_unavailable"


class EngineTimeout(UpstreamError):
    code = "engine_timeout"


STATUS: dict[type[ServiceError], int] = {
    ServiceError: 500,
    ClientError: 400,
    InvalidRequest: 422,
    RubricLibraryRefused: 422,
    NotFound: 404,
    PayloadTooLarge: 413,
    ClientClosedRequest: 499,
    Overloaded: 429,
    UpstreamError: 502,
    JudgmentFailed: 502,
    EngineServerError: 502,
    EngineUnavailable: 503,
    EngineTimeout: 504,
}


def status_of(error: ServiceError) -> int:
    for cls in type(error).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500
