"""The engine interface the judges depend on. Real: `VLLMEngine`; tests may use a named fake behind it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class SamplingParams:
    temperature: float
    top_p: float
    max_tokens: int
    seed: int | None = None


@dataclass(frozen=True)
class GenerationRequest:
    """One prompt, `n` samples: vLLM shares the prompt's prefix across them."""

    prompt_token_ids: Sequence[int]
    n: int
    sampling: SamplingParams
    regex: str | None = None
    # Requests with the same key share a prompt prefix (votes, swapped orders, a group's rollouts): a pool
    # sends them to the same engine, where that prefix is cached.
    affinity_key: str | None = None


@dataclass(frozen=True)
class Sample:
    text: str
    finish_reason: str | None


@dataclass(frozen=True)
class GenerationResult:
    samples: list[Sample]
    prompt_tokens: int
    completion_tokens: int


class Engine(Protocol):
    """Raises `EngineUnavailable`, `EngineTimeout` or `UpstreamError` (service.errors) when it cannot answer."""

    async def generate(self, request: GenerationRequest) -> GenerationResult: ...

    async def healthy(self) -> bool: ...
