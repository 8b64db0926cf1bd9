"""The types of `summary.json`: every figure a run reports, named, so the report, the Markdown, the plots and
`genrm eval compare` read attributes and not string keys. `summary.json` is `RunSummary.model_dump` (absent
figures left out), and reads back with `RunSummary.model_validate`."""

from __future__ import annotations

from pydantic import BaseModel

from evaluation.stats import Estimate


class Accuracy(BaseModel):
    """Strict accuracy (ties are not right), the tie rate, and accuracy with a tie as half right."""

    accuracy: Estimate
    tie_rate: Estimate
    accuracy_ties_half: Estimate


class ScalingPoint(Accuracy):
    votes: int


class Cost(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    engine_requests: int
    judgments: int
    judge_seconds: float
    seconds_per_pair: float | None = None


class ScoreGap(BaseModel):
    """Chosen minus rejected mean score per pair, and both means (the histograms' data)."""

    mean: Estimate
    median: float | None = None
    gaps: list[float]
    chosen_means: list[float]
    rejected_means: list[float]


class RMBench(BaseModel):
    """RM-Bench's 3x3 accuracy (chosen style by rejected style) and its easy, normal and hard averages."""

    matrix: list[list[float | None]]
    easy: Estimate
    normal: Estimate
    hard: Estimate


class ModeSummary(Accuracy):
    """One mode's figures, at the run's largest vote count unless named per vote count."""

    pairs: int
    judged: int
    failed: int
    failures: dict[str, int]
    parse_failures: dict[str, int]
    flags: dict[str, int]
    scaling: list[ScalingPoint]
    by_source: dict[str, Accuracy]
    by_subset: dict[str, Accuracy]
    by_task: dict[str, Accuracy]
    cost: Cost
    rm_bench: RMBench | None = None
    score_gap: ScoreGap | None = None  # pointwise
    no_swap: Accuracy | None = None  # pairwise, the `ab` order alone
    no_swap_scaling: list[ScalingPoint] | None = None
    # Pairwise: position bias over every vote, and swap consistency over pairs.
    first_position_wins: Estimate | None = None
    accuracy_chosen_first: Estimate | None = None
    accuracy_chosen_second: Estimate | None = None
    position_confusion: dict[str, dict[str, int]] | None = None
    swap_consistency: Estimate | None = None


class RunInfo(BaseModel):
    url: str | None = None
    data: list[str]
    judge: list[str]
    votes: list[int]
    seed: int
    max_tokens: int | None = None
    pairs: int
    sessions: int
    interrupted_sessions: int
    wall_s: float
    judgments: int
    judgments_per_s: float | None = None


class RunSummary(BaseModel):
    run: RunInfo
    pointwise: ModeSummary | None = None
    pairwise: ModeSummary | None = None

    def modes(self) -> dict[str, ModeSummary]:
        """The modes the run judged, pointwise first."""
        return {name: mode for name, mode in (("pointwise", self.pointwise), ("pairwise", self.pairwise))
                if mode is not None}

    def to_json(self) -> str:
        return self.model_dump_json(indent=1, exclude_none=True)


