"""What a trainer reads off a solution's step scores: `min` (a chain is as good as its weakest step), `mean`,
`last`, and `first_error` (the index of the first step judged incorrect; None when none is)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class StepAggregates:
    min: float
    mean: float
    last: float
    first_error: int | None


def aggregate_steps(scores: Sequence[float], incorrect: Sequence[bool]) -> StepAggregates:
    if not scores:
        raise ValueError("no step scores to aggregate")
    first_error = next((index for index, wrong in enumerate(incorrect) if wrong), None)
    return StepAggregates(min(scores), sum(scores) / len(scores), scores[-1], first_error)
