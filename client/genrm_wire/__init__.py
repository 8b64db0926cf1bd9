"""The service's HTTP contract: pydantic models only (no server, no engine, no I/O).

The service validates requests and builds responses with these classes; the client (`genrm_client`) sends and
parses the same ones, so the two cannot drift apart.
"""

from genrm_wire.errors import ErrorInfo, ErrorResponse
from genrm_wire.judging import (
    AdaptiveIn,
    ChatMessageIn,
    CompareItemIn,
    CompareItemOut,
    CompareRequest,
    CompareResponse,
    ItemError,
    ItemOut,
    ItemStatus,
    JudgingRequest,
    JudgingResponse,
    JudgmentOut,
    ModelRef,
    Prompt,
    RubricSetRef,
    SamplingIn,
    ScoreItemIn,
    ScoreItemOut,
    ScoreRequest,
    ScoreResponse,
    Usage,
    VoteOut,
)
from genrm_wire.rubrics import Rubric, RubricListResponse, RubricOut, ScoreBand
from genrm_wire.status import EngineStatus, HealthResponse, ModelInfo, ModelListResponse, ReadinessResponse

__all__ = [
    "AdaptiveIn",
    "ChatMessageIn",
    "CompareItemIn",
    "CompareItemOut",
    "CompareRequest",
    "CompareResponse",
    "EngineStatus",
    "ErrorInfo",
    "ErrorResponse",
    "HealthResponse",
    "ItemError",
    "ItemOut",
    "ItemStatus",
    "JudgingRequest",
    "JudgingResponse",
    "JudgmentOut",
    "ModelInfo",
    "ModelListResponse",
    "ModelRef",
    "Prompt",
    "ReadinessResponse",
    "Rubric",
    "RubricListResponse",
    "RubricOut",
    "RubricSetRef",
    "SamplingIn",
    "ScoreBand",
    "ScoreItemIn",
    "ScoreItemOut",
    "ScoreRequest",
    "ScoreResponse",
    "Usage",
    "VoteOut",
]
