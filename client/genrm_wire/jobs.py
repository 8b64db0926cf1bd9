"""Submit and poll: a judging request run as a job, for work longer than a trainer's HTTP timeout.

    POST   /v1/jobs                {"route": "groups", "request": {...}}   (header Idempotency-Key: optional)
    GET    /v1/jobs/{id}?wait_s=30&seen=N                                  (long-poll: returns once more than N
                                                                            items are done, the job ends, or
                                                                            wait_s passes)
    DELETE /v1/jobs/{id}                                                   (cancel)

The request is exactly the body the synchronous route takes, and the finished job's `result` exactly the body it
answers. Items (groups, for `/v1/groups`) are judged one per engine batch, so `items` fills in as they finish.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from genrm_wire.errors import ErrorInfo
from genrm_wire.judging import CompareRequest, CompareResponse, ScoreRequest, ScoreResponse
from genrm_wire.rewards import GroupRequest, GroupResponse
from genrm_wire.steps import StepsRequest, StepsResponse
from genrm_wire.trajectories import TrajectoryRequest, TrajectoryResponse

JobRoute = Literal["score", "compare", "groups", "steps", "trajectories"]
JobState = Literal["queued", "running", "succeeded", "failed", "cancelled"]
TERMINAL_STATES: frozenset[str] = frozenset({"succeeded", "failed", "cancelled"})
# Each route's list of items in its request and its response.
ITEMS_FIELD: dict[str, str] = {"score": "items", "compare": "items", "groups": "groups", "steps": "items",
                               "trajectories": "items"}
IDEMPOTENCY_HEADER = "Idempotency-Key"
JobRequest = ScoreRequest | CompareRequest | GroupRequest | StepsRequest | TrajectoryRequest
JobResponse = ScoreResponse | CompareResponse | GroupResponse | StepsResponse | TrajectoryResponse
ROUTE_OF: dict[type[BaseModel], JobRoute] = {ScoreRequest: "score", CompareRequest: "compare",
                                            GroupRequest: "groups", StepsRequest: "steps",
                                            TrajectoryRequest: "trajectories"}
RESPONSE_OF: dict[str, type[JobResponse]] = {"score": ScoreResponse, "compare": CompareResponse,
                                             "groups": GroupResponse, "steps": StepsResponse,
                                             "trajectories": TrajectoryResponse}


class JobSubmit(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    route: JobRoute = Field(description="The synchronous route the request is for: `/v1/<route>`.")
    request: dict[str, Any] = Field(description="The body that route takes, validated as that route validates it "
                                    "(errors name `request.<field>`).")


class JobItemOut(BaseModel):
    index: int = Field(description="The item's position in the request.")
    item: dict[str, Any] = Field(description="As the route answers it: ScoreItemOut, CompareItemOut, GroupOut, "
                                 "StepItemOut or TrajectoryItemOut.")


class JobOut(BaseModel):
    id: str
    route: JobRoute
    state: JobState
    idempotency_key: str | None = None
    items_total: int
    items_done: int
    items: list[JobItemOut] = Field(default_factory=list, description="The items finished so far, in the order "
                                    "they finished (`index` says where each belongs).")
    result: dict[str, Any] | None = Field(default=None, description="With state `succeeded`: the route's response "
                                          "body, every item in request order.")
    error: ErrorInfo | None = Field(default=None, description="With state `failed`: the error the route would "
                                    "have answered (its `code` the HTTP status, `param` the field, under "
                                    "`request.`).")
    created_at: float = Field(description="Unix seconds.")
    finished_at: float | None = None

    @property
    def finished(self) -> bool:
        return self.state in TERMINAL_STATES

    def response(self) -> JobResponse | None:
        """The result as the route's response model (None until the job has succeeded)."""
        return None if self.result is None else RESPONSE_OF[self.route].model_validate(self.result)
