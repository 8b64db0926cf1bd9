"""Wire models of the reward routes RL trainers call: `POST /v1/groups` (group rewards: BRPO, pointwise,
round-robin) and the failure policy every reward route and adapter takes.

A failed judgment (`parse_failed`, `engine_error`, `timeout`, `too_long`, and `flagged` under `on_flag: mask`)
never becomes a silent reward: the policy says how it is filled, each rollout says whether it was filled, and
the response counts them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from genrm_wire.judging import (
    MAX_TEXT_CHARS,
    FlagOut,
    ItemError,
    ItemStatus,
    JudgingRequest,
    JudgingResponse,
    Prompt,
    VerdictMode,
    check_prompt,
)
from genrm_wire.steps import SplitRule, StepAggregatesOut, StepOut, StepStrategy
from genrm_wire.verifying import DecidedBy, EquivalenceOut, VerificationOut, VerifyIn

FailurePolicyName = Literal["mask", "neutral", "retry", "error"]
Filled = Literal["masked", "neutral"]
GroupMode = Literal["brpo", "pointwise", "round_robin", "steps"]
StepRewardName = Literal["min", "mean", "last"]
BRPOOutcome = Literal["win", "loss", "inconsistent"]
MAX_ROLLOUTS = 64


class FailurePolicy(BaseModel):
    """What a failed judgment's reward becomes.

    - `mask` (default): no reward (`null`); trainers that can leave a sample out do (TRL: `None`).
    - `neutral`: `neutral_value`.
    - `retry`: judge it again, up to `max_retries` times (a seeded request moves the seed each time), then mask.
      `too_long` is not retried: it would fail the same way.
    - `error`: the whole request fails (422 when an item was too long, 502 otherwise) and names the items.
    """

    model_config = ConfigDict(extra="forbid", strict=True)

    policy: FailurePolicyName = "mask"
    neutral_value: float = Field(default=0.0, ge=-100, le=100, description="The reward of a failed item under "
                                 "`neutral`; also what trainers that cannot mask get (see the adapters).")
    max_retries: int = Field(default=1, ge=1, le=3, description="Re-judging rounds under `retry`.")


class FailureReport(BaseModel):
    policy: FailurePolicyName
    failed: int = Field(description="Items still failed after any retries.")
    retried: int = Field(default=0, description="Items judged again under `retry`.")
    recovered: int = Field(default=0, description="Retried items that then succeeded.")
    filled: dict[str, int] = Field(default_factory=dict, description="Failed items by how they were filled.")


class RolloutStepsIn(BaseModel):
    """`steps` mode: how each rollout is cut into steps and judged, and which aggregate is its reward."""

    model_config = ConfigDict(extra="forbid", strict=True)

    split: SplitRule = Field(default="blank_lines", description="As `/v1/steps` (`blank_lines`, `numbered`, "
                             "`lines`, `regex`); `list` is not offered: a rollout carries no list of its steps.")
    pattern: str | None = Field(default=None, max_length=200, description="With split `regex`: the separator.")
    strategy: StepStrategy = Field(default="prefix", description="As `/v1/steps`: one judgment per step "
                                   "(`prefix`) or one per rollout with a verdict per step (`list`).")
    reward: StepRewardName = Field(default="min", description="The rollout's reward: its weakest step's score "
                                   "(`min`, the usual process reward), the mean, or the last step's.")

    @field_validator("split")
    @classmethod
    def _splittable_without_a_list(cls, split: SplitRule) -> SplitRule:
        if split == "list":
            raise ValueError("a group's rollouts carry no list of their steps; use blank_lines, numbered, lines or "
                             "regex (or /v1/steps with split 'list')")
        return split

    @model_validator(mode="after")
    def _pattern_with_regex(self) -> RolloutStepsIn:
        if (self.pattern is None) == (self.split == "regex"):
            raise ValueError("pattern: give a pattern exactly when split is 'regex'")
        return self


class GroupIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    id: str | None = Field(default=None, max_length=256)
    prompt: Prompt = Field(max_length=MAX_TEXT_CHARS)
    rollouts: list[str] = Field(min_length=1, max_length=MAX_ROLLOUTS)
    reference: str | None = Field(
        default=None, max_length=MAX_TEXT_CHARS,
        description="`brpo`: judge every rollout against this text (e.g. a gold answer) instead of a reference "
        "drawn from the rollouts; `pointwise` with `verify`: what the verifier checks every rollout against.",
    )

    @model_validator(mode="after")
    def _prompt_not_empty(self) -> GroupIn:
        check_prompt(self.prompt)
        if any(len(rollout) > MAX_TEXT_CHARS for rollout in self.rollouts):
            raise ValueError(f"a rollout is longer than {MAX_TEXT_CHARS} characters")
        return self


class GroupRequest(JudgingRequest):
    """Each group is one prompt and its G rollouts; every rollout gets a reward from the same judge call."""

    mode: GroupMode = Field(description="`brpo`: each rollout against a reference drawn from its group, both "
                            "orders; `pointwise`: each rollout's score; `round_robin`: every pair, both orders; "
                            "`steps`: each rollout cut into steps, a score per step (process rewards).")
    groups: list[GroupIn] = Field(min_length=1)
    votes: int = Field(default=1, ge=1, description="Judgments per rollout (pointwise) or per order of a pair.")
    reference_seed: int = Field(default=0, ge=0, description="`brpo`: seeds the reference draw, so the same "
                                "request draws the same references.")
    inconsistent_reward: float = Field(
        default=0.0, ge=-1, le=1,
        description="`brpo`: the reward of a rollout whose votes are split or flip with the order (0 and -1 are "
        "BRPO's two readings).",
    )
    normalize: bool = Field(default=False, description="`pointwise`, `steps`: also return group-normalised "
                            "advantages.")
    rank_by: Literal["win_rate", "bradley_terry"] = Field(
        default="win_rate", description="`round_robin`: reward = share of votes won, or a Bradley-Terry strength.")
    on_failure: FailurePolicy = Field(default_factory=FailurePolicy)
    verify: VerifyIn | None = Field(default=None, description="`pointwise`: check every rollout against its "
                                    "group's `reference` with a rule verifier (genrm_wire.verifying).")
    steps: RolloutStepsIn | None = Field(default=None, description="`steps`: how rollouts are cut and judged; "
                                         "omitted: blank-line steps, judged by prefix, reward = min.")

    @model_validator(mode="after")
    def _groups_fit_the_mode(self) -> GroupRequest:
        if self.verify is not None and self.mode != "pointwise":
            raise ValueError("verify: rule verifiers score rollouts one by one; use mode 'pointwise'")
        if self.steps is not None and self.mode != "steps":
            raise ValueError(f"steps: says how mode 'steps' cuts rollouts; mode {self.mode!r} does not read it")
        for index, group in enumerate(self.groups):
            if group.reference is not None and self.mode in ("round_robin", "steps"):
                raise ValueError(f"groups.{index}.reference: mode {self.mode!r} does not read a reference; it is "
                                 "for 'brpo', or 'pointwise' with `verify`")
            if group.reference is not None and self.mode == "pointwise" and self.verify is None:
                raise ValueError(f"groups.{index}.reference: mode 'pointwise' reads a reference only with "
                                 "`verify` (a rule verifier checks against it)")
            drawn = self.mode == "brpo" and group.reference is None
            if (drawn or self.mode == "round_robin") and len(group.rollouts) < 2:
                raise ValueError(f"groups.{index}: mode {self.mode!r} compares rollouts with each other and needs "
                                 "at least 2 (or, for brpo, a `reference`)")
        return self


class RolloutOut(BaseModel):
    index: int
    status: ItemStatus
    reward: float | None = Field(description="Null when the judgment failed and the policy masks it.")
    filled: Filled | None = Field(default=None, description="How a failed judgment's reward was filled.")
    reference: bool = Field(default=False, description="`brpo`: the group's reference (reward 0 by definition).")
    score: float | None = Field(default=None, description="`pointwise`: the aggregated 0-10 score.")
    advantage: float | None = Field(default=None, description="`pointwise` with `normalize`.")
    p_win: float | None = Field(default=None, description="`brpo`: share of votes won against the reference; "
                                "`round_robin`: share of votes won over all its pairs.")
    consistent: bool | None = Field(default=None, description="`brpo`: both orders named the same winner.")
    outcome: BRPOOutcome | None = Field(default=None, description="`brpo`: the rollout's result against the "
                                        "reference (every vote won, every vote lost, or neither), from which "
                                        "`reward` was read.")
    comparisons: int = Field(default=0, description="Pairwise modes: comparisons that produced votes.")
    error: ItemError | None = None
    flags: list[FlagOut] = Field(default_factory=list, description="The rollout's reward-hacking flags.")
    penalized: bool = Field(default=False, description="`on_flag: penalize` set its reward (it lost, or 0).")
    decided_by: DecidedBy | None = Field(default=None, description="`pointwise` with `verify`: who set it.")
    verification: VerificationOut | None = None
    equivalence: EquivalenceOut | None = None
    steps: list[StepOut] = Field(default_factory=list, description="`steps`: each step's verdict, score and span "
                                 "in the rollout (`genrm_client.spans` places them on tokens).")
    step_aggregates: StepAggregatesOut | None = Field(default=None, description="`steps`: min, mean, last and "
                                                      "first_error; `reward` is the one `steps.reward` named.")


class GroupOut(BaseModel):
    id: str
    reference: int | None = Field(default=None, description="`brpo`: the index of the drawn reference (null "
                                  "when the group gave its own `reference`).")
    rollouts: list[RolloutOut]


class GroupResponse(JudgingResponse):
    mode: GroupMode
    verdict: VerdictMode = "sampled"
    groups: list[GroupOut]
    failures: FailureReport
