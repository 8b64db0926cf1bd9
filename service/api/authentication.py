"""`AuthMiddleware`: pure ASGI; every route but the probes needs a valid API key once keys are configured.

A key comes as `Authorization: Bearer <key>` (the OpenAI and vLLM convention), as `X-API-Key: <key>`, or, for
trainers that cannot set headers on their reward calls (OpenRLHF's and slime's remote reward models), as the
query parameter `api_key`. Access logs record the path without the query, so the key is never logged.

    open (no key)          /healthz /readyz /docs /redoc /openapi.json; /metrics and /prometheus/targets
                           unless `protect_metrics`
    scope `admin`          /admin/...
    scope `judge`          everything else (judging, trainer adapters, /v1/models, /v1/rubrics)

Missing or unknown key: 401 (with `WWW-Authenticate: Bearer`); a key without the route's scope: 403. The key's
name is put in the ASGI scope (`key_name_of`) for quotas, metrics and the access log.
"""

from __future__ import annotations

from urllib.parse import parse_qs

from starlette.types import ASGIApp, Receive, Scope, Send

from service.api.errors import error_response
from service.auth.api_keys import Keyring
from service.metrics import Metrics

OPEN_PATHS = frozenset({"/healthz", "/readyz", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"})
METRICS_PATHS = frozenset({"/metrics", "/prometheus/targets"})
ADMIN_PREFIX = "/admin/"
_SCOPE_KEY = "genrm.key"
ANONYMOUS = "anonymous"


def key_name_of(scope: Scope) -> str:
    """The calling key's name; `anonymous` when keys are off."""
    return str(scope.get(_SCOPE_KEY, ANONYMOUS))


def presented_key(scope: Scope) -> str | None:
    headers: list[tuple[bytes, bytes]] = scope["headers"]
    for name, value in headers:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
        elif name == b"x-api-key" and value.strip():
            return value.decode("latin-1").strip()
    query: bytes = scope.get("query_string", b"")
    if b"api_key=" in query:
        found = parse_qs(query.decode("latin-1")).get("api_key")
        if found:
            return str(found[0])
    return None


def required_scope(path: str, protect_metrics: bool) -> str | None:
    if path in OPEN_PATHS or (path in METRICS_PATHS and not protect_metrics):
        return None
    if path in METRICS_PATHS:
        return "any"
    return "admin" if path.startswith(ADMIN_PREFIX) else "judge"


class AuthMiddleware:
    def __init__(self, app: ASGIApp, keyring: Keyring, protect_metrics: bool, metrics: Metrics) -> None:
        self.app = app
        self.keyring = keyring
        self.protect_metrics = protect_metrics
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.keyring.enabled:
            await self.app(scope, receive, send)
            return
        needed = required_scope(scope["path"], self.protect_metrics)
        if needed is None:
            await self.app(scope, receive, send)
            return
        presented = presented_key(scope)
        key = self.keyring.identify(presented) if presented is not None else None
        if key is None:
            reason = "missing" if presented is None else "invalid"
            self.metrics.auth_refusals.labels(reason).inc()
            message = ("this route needs an API key: send `Authorization: Bearer <key>` or `X-API-Key: <key>`"
                       if presented is None else "the API key is not valid; check it, or ask for a new one")
            response = error_response(401, message, "unauthorized", param="Authorization")
            response.headers["WWW-Authenticate"] = "Bearer"
            await response(scope, receive, send)
            return
        if needed != "any" and needed not in key.scopes:
            self.metrics.auth_refusals.labels("scope").inc()
            response = error_response(
                403, f"key {key.name!r} lacks the `{needed}` scope this route needs (it has: "
                f"{', '.join(sorted(key.scopes))}); use a key with it", "forbidden", param="Authorization",
            )
            await response(scope, receive, send)
            return
        scope[_SCOPE_KEY] = key.name
        await self.app(scope, receive, send)
