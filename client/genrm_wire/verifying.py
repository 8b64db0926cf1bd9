"""Wire models of verifiable rewards: a rule verifier per request, and who decides each item (`policy`).

`verify` on `/v1/score` and `/v1/groups` (pointwise), and the `verifier` query parameter of the trainer routes,
turn on the verifier; each item's `reference` (a group's, a trainer's label) is what it checks against:

| verifier | the reference is | the response's answer is |
|---|---|---|
| `math` | the answer (`\\boxed{}` allowed) | its last `\\boxed{}`, else "answer is X"; equivalent by math-verify |
| `exact`, `normalized` | the answer | as for math, else the whole response; equal as is / case, space, `$` folded |
| `choice` | the right letter | the one letter (A-Z) of its final answer |
| `regex` | a pattern | its final answer, matched in full |
| `json_schema` | a JSON Schema (or `schema` for all items) | its last ```json block, else the whole response |
| `code` | Python tests (asserts) | its last ```python block, run with the tests in a sandbox |

Policies: `verifier` (rules only), `judge` (the judge decides every item), `verify_then_judge` (the verifier
decides unless its verdict is in `escalate_on`, by default `no_answer` and `timeout`; then the judge), `both`
(both on every item; the reward is `verifier_weight` × verifier + (1 − verifier_weight) × judge). The judge of a
reference is asked in both orders whether the response's answer and the reference are equivalent; only two orders
that both say so count.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

VerifierName = Literal["math", "exact", "normalized", "choice", "regex", "json_schema", "code"]
Extraction = Literal["auto", "boxed", "answer_is", "last_line", "whole"]
VerifierVerdict = Literal["correct", "incorrect", "no_answer", "ambiguous", "timeout", "error"]
RewardPolicyName = Literal["verifier", "judge", "verify_then_judge", "both"]
Escalation = Literal["no_answer", "incorrect", "timeout", "error"]
DecidedBy = Literal["verifier", "judge", "both"]
# The judge is asked by default only where the rule could not decide at all. Asking it also where the rule says
# "no" rescues equivalent answers the rule misreads, and pays for every near miss a judge wrongly calls equal:
# the bundled judge called all 80 near misses of data/verifiable-math.jsonl equal (docs/benchmarks.md), so that
# is an opt-in for a judge measured to be strong enough (`escalate_on: [no_answer, incorrect, timeout]`).
DEFAULT_ESCALATIONS: tuple[Escalation, ...] = ("no_answer", "timeout")


class VerifyIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)

    verifier: VerifierName
    policy: RewardPolicyName = Field(default="verify_then_judge", description="Who decides each item.")
    escalate_on: list[Escalation] = Field(
        default_factory=lambda: list(DEFAULT_ESCALATIONS),
        description="`verify_then_judge`: the verifier's verdicts that ask the judge (`ambiguous`, an enumerated "
        "answer, never does). The default asks only where no answer could be read (or the check timed out); add "
        "`incorrect` to let a strong judge rescue equivalent answers the rule rejects.",
    )
    extraction: Extraction = Field(default="auto", description="Where the response's final answer is.")
    timeout_s: float = Field(default=2.0, gt=0, le=60, description="Per item: a check that takes longer is "
                             "stopped and the item's verdict is `timeout` (`code`: the sandbox's wall time).")
    verifier_weight: float = Field(default=0.5, ge=0, le=1, description="`both`: the verifier's share of the "
                                   "reward.")
    json_schema: dict[str, Any] | None = Field(
        default=None, alias="schema", description="`json_schema`: one schema for every item (else each item's "
        "reference is its schema, as JSON text).",
    )


class VerificationOut(BaseModel):
    verifier: str = Field(description="The verifier's name and version.")
    verdict: VerifierVerdict
    extracted: str | None = Field(default=None, description="The final answer it read from the response.")
    detail: str = ""
    candidates: list[str] = Field(default_factory=list, description="Every distinct final answer found "
                                  "(more than one: `ambiguous`).")


class EquivalenceOut(BaseModel):
    """The judge's answer to "are the response's answer and the reference equivalent?", asked in both orders."""

    equivalent: bool = Field(description="Both orders' votes said so (a majority of each order's votes).")
    p_equal: float = Field(description="Share of all parsed votes that said equivalent.")
    by_order: dict[str, float] = Field(description="Share per order: `reference_first`, `response_first`.")
    votes_used: int = 0
