"""Judging labelled solutions through `POST /v1/steps` for one strategy, with what it cost; shared by
`genrm eval steps` and `loadtests/measure_steps.py`."""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from evaluation.step_metrics import StepScores, score_steps
from genrm_client import AsyncJudgeClient, JudgeClientError, StepsRequest

Verdicts = list[str | None] | None  # a solution's per-step verdicts; None when it failed


@dataclass(frozen=True)
class StepJudging:
    strategy: str
    votes: int = 1
    seed: int = 0
    max_tokens: int | None = None
    model: str | None = None
    batch: int = 4
    concurrency: int = 2


@dataclass
class StepRun:
    scores: StepScores
    verdicts: list[Verdicts]
    wall_s: float
    usage: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"metrics": self.scores.as_dict(), "usage": self.usage, "wall_s": round(self.wall_s, 2),
                "verdicts": self.verdicts}


async def judge_steps(client: AsyncJudgeClient, rows: list[dict[str, Any]], settings: StepJudging) -> StepRun:
    """Every row's per-step verdicts under `settings`, scored against its `labels`."""
    batches = [rows[start:start + settings.batch] for start in range(0, len(rows), settings.batch)]
    gate = asyncio.Semaphore(settings.concurrency)
    usage = {"prompt_tokens": 0, "completion_tokens": 0, "engine_requests": 0}
    started = time.monotonic()

    async def judged(batch: list[dict[str, Any]]) -> list[Verdicts]:
        body: dict[str, Any] = {"strategy": settings.strategy, "votes": settings.votes, "model": settings.model,
                                "sampling": {"seed": settings.seed, "max_tokens": settings.max_tokens},
                                "items": [{"prompt": row["prompt"], "solution": row["solution"],
                                           "split": row.get("split", "blank_lines")} for row in batch]}
        async with gate:
            try:
                answer = await client.steps(StepsRequest.model_validate(body))
            except JudgeClientError as error:
                print(f"steps: a batch failed: {error}", file=sys.stderr)
                return [None] * len(batch)
        for key in usage:
            usage[key] += getattr(answer.usage, key)
        return [[step.verdict for step in item.steps] if item.status == "ok" else None for item in answer.items]

    answers = await asyncio.gather(*(judged(batch) for batch in batches))
    verdicts = [found for batch in answers for found in batch]
    return StepRun(score_steps([row["labels"] for row in rows], verdicts), verdicts, time.monotonic() - started,
                   usage)
