"""Wire models of the service's status routes: `GET /v1/models`, `GET /readyz`, `GET /healthz`."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

EngineStateName = Literal["starting", "ready", "restarting", "stopped", "failed", "unhealthy"]
Readiness = Literal["ready", "degraded", "not_ready", "draining"]


class EngineStatus(BaseModel):
    model: str
    engine: str = Field(description="`<model>/<index>` in the model's engine list.")
    state: EngineStateName
    in_flight: int = Field(description="Engine requests running on it now.")
    queued: int = Field(description="Engine requests routed to it and waiting for a slot.")
    failures: int
    restarts: int | None = Field(default=None, description="Restarts of a managed engine; null for external ones.")


class ModelInfo(BaseModel):
    name: str
    version: str
    formats: list[Literal["pointwise", "pairwise", "equivalence", "step", "step_list", "trajectory"]]
    constrained: bool
    max_model_len: int
    available: bool = Field(description="At least one of its engines is in rotation.")
    engines: list[EngineStatus]


class ModelListResponse(BaseModel):
    default: str
    models: list[ModelInfo]


class ReadinessResponse(BaseModel):
    """`ready` (200): every engine up; `degraded` (200): some out; `not_ready` (503): a model has none;
    `draining` (503): shutting down, finishing what it accepted."""

    status: Readiness
    rubrics: int
    rubric_library_hash: str
    engines: list[EngineStatus]


class HealthResponse(BaseModel):
    status: Literal["ok"] = "ok"


class ScrapeTargetGroup(BaseModel):
    """One entry of `GET /prometheus/targets`, Prometheus's HTTP service-discovery format: an engine's metrics
    address and the labels its series get (model, version, engine)."""

    targets: list[str] = Field(description="`host:port` of the engine's /metrics.")
    labels: dict[str, str]
