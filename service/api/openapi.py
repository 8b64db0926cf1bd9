"""The OpenAPI document says what the service does: the fixes FastAPI's generator needs, and the API keys.

- An optional header (`X-Request-Timeout`) is a number; FastAPI documents it as `number | null`, but a header
  cannot be null (the text `null` is not a number and is refused).
- With API keys configured, every route but the open ones declares the bearer and `X-API-Key` schemes.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from service.api.authentication import METRICS_PATHS, OPEN_PATHS
from service.settings import Settings

SECURITY_SCHEMES = {
    "bearer": {"type": "http", "scheme": "bearer", "description": "`Authorization: Bearer <key>`"},
    "apiKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
    "apiKeyQuery": {"type": "apiKey", "in": "query", "name": "api_key",
                    "description": "For trainers that cannot set headers (OpenRLHF, slime)."},
}


def _not_null(schema: dict[str, Any]) -> dict[str, Any]:
    options = schema.get("anyOf")
    if isinstance(options, list):
        kept = [option for option in options if option.get("type") != "null"]
        if len(kept) == 1:
            rest = {key: value for key, value in schema.items() if key != "anyOf"}
            return {**rest, **kept[0]}
    return schema


def tighten(document: dict[str, Any], settings: Settings) -> dict[str, Any]:
    for path, operations in document.get("paths", {}).items():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "header" and "schema" in parameter:
                    parameter["schema"] = _not_null(parameter["schema"])
            protected = path not in OPEN_PATHS and (path not in METRICS_PATHS or settings.protect_metrics)
            if settings.api_keys and protected:
                operation["security"] = [{name: []} for name in SECURITY_SCHEMES]
    if settings.api_keys:
        document.setdefault("components", {})["securitySchemes"] = SECURITY_SCHEMES
    return document


def describe_service(app: FastAPI, settings: Settings) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(title=app.title, version=app.version, summary=app.summary, routes=app.routes)
            app.openapi_schema = tighten(document, settings)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
