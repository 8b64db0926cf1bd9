"""Wire models of the routes that speak RL trainers' own shapes: OpenRLHF's `--reward.remote_url` and slime's
`--rm-url`. They ignore fields they do not know, so a trainer that adds one keeps working."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from genrm_wire.judging import MAX_TEXT_CHARS, ChatMessageIn, FlagKind, FlagPolicyName, ItemStatus, VerdictMode
from genrm_wire.rewards import FailurePolicyName, Filled
from genrm_wire.verifying import DecidedBy, Extraction, RewardPolicyName, VerifierName

# OpenRLHF cannot leave a sample out, so a masked sample's `scores` entry is this: below any dynamic-filtering
# range (`--algo.dynamic_filtering_range`, 0..1 by default), which drops and replaces its prompt's group.
OPENRLHF_MASKED_SCORE = -1e9


class AdapterOptions(BaseModel):
    """Query parameters of the adapter routes: the deployment's choices, one per trainer URL."""

    model_config = ConfigDict(extra="forbid")

    model: str | None = Field(default=None, description="Judge model; omitted: the default model.")
    task: str = Field(default="chat", pattern=r"^[a-z][a-z0-9_]*$", max_length=64, description="Rubric domain.")
    votes: int = Field(default=1, ge=1, description="Judgments per sample (per order when comparing).")
    verdict: VerdictMode = Field(default="sampled", description="`sampled`, `expected` or `direct` (see the "
                                 "judging routes): with a probability verdict the unit is the expected score / 10, "
                                 "or p(win) averaged over both orders.")
    reward_scale: float = Field(default=1.0, description="reward = reward_scale × unit + reward_offset, where "
                                "unit is score / 10 (score route) or the share of votes won (compare route).")
    reward_offset: float = 0.0
    on_failure: FailurePolicyName = "mask"
    neutral_value: float = Field(default=0.0, ge=-100, le=100)
    max_retries: int = Field(default=1, ge=1, le=3)
    timeout_s: float | None = Field(default=None, gt=0, le=3600, description="Deadline of one call.")
    seed: int | None = Field(default=None, ge=0, le=2**63 - 1, description="Sampling seed: the same sample judged "
                             "the same way (and answered from the judgment cache on repeats).")
    api_key: str | None = Field(
        default=None, max_length=256, exclude=True,
        description="The API key, for trainers that cannot set headers on their reward calls (OpenRLHF, slime); "
        "the gateway's authentication reads it, and access logs never show it.",
    )
    verifier: VerifierName | None = Field(default=None, description="Score route: check each response against "
                                          "its label (OpenRLHF `labels`, slime `label`) with this rule verifier.")
    policy: RewardPolicyName = Field(default="verify_then_judge", description="With `verifier`: who decides.")
    extraction: Extraction = "auto"
    verify_timeout_s: float = Field(default=2.0, gt=0, le=60, description="With `verifier`: per-item limit.")
    on_flag: FlagPolicyName = Field(default="penalize", description="What a near-certain reward-hacking flag "
                                    "(forged verdict, judge or template markup) does: `penalize` (default) gives "
                                    "the floor (unit 0), `flag` only reports it, `mask` fails the sample (then "
                                    "`on_failure` fills it).")


class OpenRLHFRequest(BaseModel):
    """What OpenRLHF's `_fetch_rewards_via_http` posts: `query` is prompt + response as the policy's tokenizer
    decoded them (special tokens kept), `prompts` the prompts, `labels` the dataset's label column."""

    model_config = ConfigDict(extra="ignore")

    query: list[str] = Field(max_length=4096)
    prompts: list[str] = Field(max_length=4096)
    labels: list[str | None] | None = None


class OpenRLHFResponse(BaseModel):
    rewards: list[float]
    scores: list[float]
    extra_logs: dict[str, list[float]]


class SlimeRequest(BaseModel):
    """What slime's `remote_rm` posts: the sample's prompt, response and label."""

    model_config = ConfigDict(extra="ignore")

    prompt: str | list[ChatMessageIn] = Field(max_length=MAX_TEXT_CHARS)
    response: str = Field(max_length=MAX_TEXT_CHARS)
    label: str | None = Field(default=None, max_length=MAX_TEXT_CHARS)


class SlimeResponse(BaseModel):
    """Read the reward with `--reward-key reward`."""

    reward: float
    status: ItemStatus
    unit: float | None = Field(description="score / 10, or the share of votes won; null when the judgment failed.")
    judge_failed: bool
    filled: Filled | None = None
    error: str | None = None
    mode: Literal["score", "compare"]
    flags: list[FlagKind] = Field(default_factory=list, description="The response's reward-hacking flags.")
    decided_by: DecidedBy | None = Field(default=None, description="With `verifier`: who set the reward.")
