"""Client of the judging service: typed sync and async clients, their errors, and a local-gateway launcher.

Needs only httpx and pydantic: a trainer host uses it without vLLM, FastAPI or torch. The request and response
models are the service's own (`genrm_wire`), re-exported here.
"""

from genrm_client.client import AsyncJudgeClient, JudgeClient
from genrm_client.errors import JudgeClientError, JudgeRequestError, JudgeServerError, JudgeUnavailable
from genrm_client.launcher import LocalGateway, free_port, wait_ready
from genrm_wire import (
    ChatMessageIn,
    CompareItemIn,
    CompareItemOut,
    CompareRequest,
    CompareResponse,
    SamplingIn,
    ScoreItemIn,
    ScoreItemOut,
    ScoreRequest,
    ScoreResponse,
)

__all__ = [
    "AsyncJudgeClient",
    "ChatMessageIn",
    "CompareItemIn",
    "CompareItemOut",
    "CompareRequest",
    "CompareResponse",
    "JudgeClient",
    "JudgeClientError",
    "JudgeRequestError",
    "JudgeServerError",
    "JudgeUnavailable",
    "LocalGateway",
    "SamplingIn",
    "ScoreItemIn",
    "ScoreItemOut",
    "ScoreRequest",
    "ScoreResponse",
    "free_port",
    "wait_ready",
]
