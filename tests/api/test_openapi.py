"""The OpenAPI document tells the truth: every route lists the statuses it can answer, with their bodies."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import AppFactory

JUDGING_STATUSES = {"200", "401", "403", "404", "413", "415", "422", "429", "499", "500", "502", "503", "504"}


def body_schema(operation: dict[str, Any], status: str) -> str:
    return str(operation["responses"][status]["content"]["application/json"]["schema"].get("$ref", ""))


async def test_every_route_declares_its_error_statuses_and_their_bodies(make_client: AppFactory) -> None:
    async with make_client() as (gateway, _):
        paths = (await gateway.get("/openapi.json")).json()["paths"]
    for route in ("/v1/score", "/v1/compare"):
        operation = paths[route]["post"]
        assert set(operation["responses"]) == JUDGING_STATUSES, route
        assert all(body_schema(operation, status).endswith("/ErrorResponse")
                   for status in JUDGING_STATUSES - {"200"}), route
    for route, operation in ((route, methods[method]) for route, methods in paths.items() for method in methods):
        assert "500" in operation["responses"], f"{route} does not declare 500"


async def test_status_routes_have_response_models(make_client: AppFactory) -> None:
    async with make_client() as (gateway, _):
        paths = (await gateway.get("/openapi.json")).json()["paths"]
    assert body_schema(paths["/v1/models"]["get"], "200").endswith("/ModelListResponse")
    assert body_schema(paths["/readyz"]["get"], "200").endswith("/ReadinessResponse")
    assert body_schema(paths["/readyz"]["get"], "503").endswith("/ReadinessResponse")
    assert body_schema(paths["/healthz"]["get"], "200").endswith("/HealthResponse")
    assert body_schema(paths["/v1/rubrics"]["get"], "200").endswith("/RubricListResponse")


async def test_the_document_says_what_the_service_does(make_client: AppFactory) -> None:
    """Found by schemathesis: /metrics documented as JSON, a nullable header, and both rubric sources allowed."""
    async with make_client() as (gateway, _):
        document = (await gateway.get("/openapi.json")).json()
        metrics = await gateway.get("/metrics")
    assert set(document["paths"]["/metrics"]["get"]["responses"]["200"]["content"]) == {
        "text/plain", "text/plain; version=1.0.0; charset=utf-8"}
    assert metrics.headers["content-type"].startswith("text/plain")
    header = next(p for p in document["paths"]["/v1/score"]["post"]["parameters"] if p["name"] == "X-Request-Timeout")
    assert header["schema"]["type"] == "number" and "anyOf" not in header["schema"]
    request = document["components"]["schemas"]["ScoreRequest"]
    assert request["not"] == {"required": ["rubric_ids", "rubrics"]}
