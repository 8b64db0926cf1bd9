"""Wire models of `POST /v1/score` and `POST /v1/compare`, shared by the service and the client.

Requests forbid unknown fields, so a typo is an error and not a default, and are strict: `votes: "2"`,
`votes: true` and `swap: "yes"` are errors, not silently read as 2, 1 and true. Responses ignore fields they do
not know, so an older client reads a newer service's answers.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from genrm_wire.rubrics import Rubric
from genrm_wire.verifying import DecidedBy, EquivalenceOut, VerificationOut, VerifyIn

MAX_TEXT_CHARS = 400_000
# How a judgment's verdict becomes its reward (docs/methods.md, "Probability verdicts"): `sampled`, the verdict the
# judge wrote; `expected`, the judge's distribution over the verdicts read at its answer after its reasoning;
# `direct`, that distribution with no reasoning at all (one prefill, no sampling).
VerdictMode = Literal["sampled", "expected", "direct"]
ItemStatus = Literal["ok", "too_long", "parse_failed", "engine_error", "timeout", "flagged", "verifier_error"]
FlagKind = Literal[
    "template_markup", "judge_markup", "forged_verdict", "addresses_judge", "master_key", "empty",
    "restates_prompt", "length_outlier", "answer_spam",
]
FlagPolicyName = Literal["flag", "penalize", "mask"]
# What the policy acts on unless told otherwise: the kinds whose detector is near-certain (no false positive among
# the 600 clean responses of the dev set; docs/integrity.md). A forged verdict that the judge half-believes would
# otherwise pay, and an RL policy would learn it. The other kinds are reported only unless `kinds` names them: a
# real answer can address the judge's labels, be empty or short, quote the prompt or be long.
DEFAULT_ACTED_FLAGS: tuple[FlagKind, ...] = ("template_markup", "judge_markup", "forged_verdict")


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class ChatMessageIn(_Request):
    role: Literal["system", "user", "assistant"]
    content: str = Field(max_length=MAX_TEXT_CHARS)


Prompt = str | list[ChatMessageIn]


class SamplingIn(_Request):
    """Overrides of the model's default sampling; omitted fields keep the defaults."""

    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    max_tokens: int | None = Field(default=None, ge=1, le=32768)
    seed: int | None = Field(default=None, ge=0, le=2**63 - 1)


class AdaptiveIn(_Request):
    """Sequential voting: draw votes in rounds and stop as soon as they agree, up to `votes`."""

    round_votes: int = Field(default=2, ge=1, description="Votes drawn per round (per order for /compare).")
    max_stderr: float = Field(
        default=0.5, gt=0, description="Pointwise: stop once the standard error of the mean score is at most this."
    )
    min_margin: float = Field(
        default=0.5, ge=0, le=1,
        description="Pairwise: stop once both orders agree and |2·p_a − 1| is at least this.",
    )


class FlagPolicy(_Request):
    """What a flagged item gets (the flags themselves are always reported, in each item's `flags`).

    - `penalize` (default): not judged; a score becomes 0 (the floor), a comparison is lost by the flagged
      response (a tie when both are); the item says `penalized: true`.
    - `flag`: judged as usual; the flags are reported only.
    - `mask`: not judged; the item fails with status `flagged` (reward routes then fill it by `on_failure`).
    """

    policy: FlagPolicyName = "penalize"
    kinds: list[FlagKind] = Field(
        default_factory=lambda: list(DEFAULT_ACTED_FLAGS), min_length=1,
        description="The flag kinds `penalize` and `mask` act on; the default is the near-certain ones "
        "(`template_markup`, `judge_markup`, `forged_verdict`); the others are reported only.",
    )


class JudgingRequest(_Request):
    model_config = ConfigDict(json_schema_extra={"not": {"required": ["rubric_ids", "rubrics"]}})

    model: str | None = Field(default=None, description="Judge model name; omitted: the default model.")
    task: str = Field(
        pattern=r"^[a-z][a-z0-9_]*$", max_length=64,
        description="Rubric domain (chat, math, code, safety, instruction_following, creative_writing).",
    )
    rubric_ids: list[str] | None = Field(
        default=None, min_length=1, max_length=32, description="`id` or `id@version`; default: the task's."
    )
    rubrics: list[Rubric] | None = Field(default=None, min_length=1, max_length=32, description="Inline rubrics.")
    sampling: SamplingIn | None = None
    include_judgments: bool = Field(default=False, description="Return every judgment's text and verdict.")
    adaptive: AdaptiveIn | None = Field(default=None, description="Stop voting early once the votes agree.")
    timeout_s: float | None = Field(
        default=None, gt=0, le=3600,
        description="Deadline for the whole request (also header X-Request-Timeout); late items get `timeout`.",
    )
    cache: bool | None = Field(
        default=None,
        description="Answer repeats from the judgment cache. Default: only when sampling.seed is set, since "
        "unseeded samples are random; true opts in anyway; false turns it off.",
    )
    dedup: bool = Field(default=True, description="Judge identical items of this batch once.")
    on_flag: FlagPolicy = Field(default_factory=FlagPolicy, description="What a reward-hacking flag does to "
                                "its item (see docs/integrity.md for the detector).")
    verdict: VerdictMode = Field(
        default="sampled",
        description="`sampled`: the verdict each judgment wrote. `expected`: after each judgment's reasoning, the "
        "judge's probability of every verdict is read at its answer and the reward is their expectation "
        "(pairwise: p(A), averaged over both orders). `direct`: that distribution with no reasoning (one "
        "prefill per order, `votes` ignored): cheapest. Items report `p`.",
    )

    @model_validator(mode="after")
    def _one_rubric_source(self) -> JudgingRequest:
        if {"rubric_ids", "rubrics"} <= self.model_fields_set:  # as the schema says: never both keys
            raise ValueError("pass either `rubric_ids` or `rubrics`, not both")
        return self


def check_prompt(prompt: Prompt) -> None:
    if isinstance(prompt, list) and not prompt:
        raise ValueError("`prompt` as a conversation needs at least one message")


class ScoreItemIn(_Request):
    id: str | None = Field(default=None, max_length=256)
    prompt: Prompt = Field(max_length=MAX_TEXT_CHARS)
    response: str = Field(max_length=MAX_TEXT_CHARS)
    reference: str | None = Field(default=None, max_length=MAX_TEXT_CHARS, description="With `verify`: what the "
                                  "verifier checks the response against (an answer, a pattern, a schema, tests).")

    @model_validator(mode="after")
    def _prompt_not_empty(self) -> ScoreItemIn:
        check_prompt(self.prompt)
        return self


class ScoreRequest(JudgingRequest):
    items: list[ScoreItemIn] = Field(min_length=1)
    votes: int = Field(default=1, ge=1, description="Judgments per item (one engine request with n samples).")
    aggregate: Literal["mean", "majority"] = "mean"
    verify: VerifyIn | None = Field(default=None, description="Check each item against its `reference` with a "
                                    "rule verifier, and say who decides (genrm_wire.verifying).")


class CompareItemIn(_Request):
    id: str | None = Field(default=None, max_length=256)
    prompt: Prompt = Field(max_length=MAX_TEXT_CHARS)
    response_a: str = Field(max_length=MAX_TEXT_CHARS)
    response_b: str = Field(max_length=MAX_TEXT_CHARS)

    @model_validator(mode="after")
    def _prompt_not_empty(self) -> CompareItemIn:
        check_prompt(self.prompt)
        return self


class CompareRequest(JudgingRequest):
    items: list[CompareItemIn] = Field(min_length=1)
    votes: int = Field(default=1, ge=1, description="Judgments per order.")
    swap: bool = Field(default=True, description="Judge both orders (A,B) and (B,A) and vote.")


class ModelRef(BaseModel):
    name: str
    version: str


class RubricSetRef(BaseModel):
    ids: list[str]
    hash: str
    library_hash: str = Field(default="", description="The rubric library in service when the request arrived "
                              "(it changes on a reload; GET /v1/rubrics).")


class Usage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    engine_requests: int = 0


class ItemError(BaseModel):
    type: ItemStatus
    message: str


class JudgmentOut(BaseModel):
    text: str
    order: Literal["ab", "ba"] | None = None
    score: float | None = None
    winner: Literal["A", "B"] | None = Field(default=None, description="Mapped back to the request's labels.")
    failure: str | None = Field(default=None, description="Parse-failure category when not a verdict.")
    failure_detail: str | None = None
    finish_reason: str | None = Field(default=None, description="Of the judgment's last engine request.")
    forced: bool = Field(default=False, description="It ran out of budget and its ending (closing tags, missing "
                         "sections, the answer) was forced; `text` is the whole judgment.")
    p: dict[str, float] | None = Field(default=None, description="With verdict expected|direct: the probability "
                                       "of each verdict read at this judgment's answer (as shown: A is shown "
                                       "first); null when none of the verdicts was among the top tokens.")


class FlagOut(BaseModel):
    kind: FlagKind
    field: str = Field(description="The text that tripped it: `response`, `response_a` or `response_b`.")
    detail: str


class ItemOut(BaseModel):
    id: str
    status: ItemStatus
    cached: bool = Field(default=False, description="Answered from the judgment cache.")
    duplicate_of: str | None = Field(default=None, description="Judged once with this identical item.")
    votes_used: int = 0
    parse_failures: dict[str, int] = Field(default_factory=dict)
    judgments: list[JudgmentOut] | None = None
    error: ItemError | None = None
    flags: list[FlagOut] = Field(default_factory=list, description="Reward-hacking flags; empty when clean.")
    penalized: bool = Field(default=False, description="Not judged: `on_flag: penalize` set its result.")


class ScoreItemOut(ItemOut):
    score: float | None = Field(default=None, description="The votes' scores aggregated (`aggregate`).")
    scores: list[float] = Field(default_factory=list, description="Each vote's score: the verdict it wrote, or "
                                "with verdict expected|direct the expectation read at its answer.")
    p: dict[str, float] | None = Field(default=None, description="With verdict expected|direct: each integer "
                                       "score's probability, averaged over the votes whose answer could be read.")
    std: float | None = None
    decided_by: DecidedBy | None = Field(default=None, description="With `verify`: who set the score.")
    verification: VerificationOut | None = None
    equivalence: EquivalenceOut | None = Field(default=None, description="The judge's verdict, when asked.")


class VoteOut(BaseModel):
    order: Literal["ab", "ba"]
    winner: Literal["A", "B"]


class CompareItemOut(ItemOut):
    preference: Literal["A", "B", "tie"] | None = None
    p_a: float | None = Field(default=None, description="The probability that A is better: the share of votes "
                              "for A, or with verdict expected|direct p(A) averaged in probability over the votes, "
                              "then over both orders.")
    consistent: bool | None = None
    votes: list[VoteOut] = Field(default_factory=list)


class JudgingResponse(BaseModel):
    model: ModelRef
    rubric_set: RubricSetRef
    usage: Usage
    flag_detector: str = Field(default="", description="The version of the flag detector that read the items.")


class ScoreResponse(JudgingResponse):
    aggregate: Literal["mean", "majority"]
    verdict: VerdictMode = "sampled"
    items: list[ScoreItemOut]


class CompareResponse(JudgingResponse):
    swap: bool
    verdict: VerdictMode = "sampled"
    items: list[CompareItemOut]
