"""The value types of one engine request: what the judges ask an engine for and what it answers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


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
    # Budget forcing inside the engine: after this many tokens, the engine's logits processor writes the ending
    # (service/engine/forced_ending_processor.py). None: the engine is not asked to.
    force_at: int | None = None
    # Probability verdicts: the engine answers the top this-many log-probabilities of the first generated token
    # (always with the generated token's own, whatever its rank).
    top_logprobs: int | None = None
    # Only these tokens may be generated (vLLM's `allowed_token_ids`): to read one token's log-probability.
    allowed_token_ids: tuple[int, ...] | None = None


@dataclass(frozen=True)
class Sample:
    text: str
    finish_reason: str | None
    tokens: int | None = None  # how many tokens the engine generated for it, where asked (`force_at` set)
    # Where asked (`top_logprobs` set): token id -> log-probability at the first generated position.
    top_logprobs: Mapping[int, float] | None = None


@dataclass(frozen=True)
class GenerationResult:
    samples: list[Sample]
    prompt_tokens: int
    completion_tokens: int
