"""A request's verification plan from its `verify` field, checked before any work: the verifier's references
and schema, what format the judge would be asked in, and how much engine work to admit."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from genrm_wire import AdaptiveIn, VerifyIn
from models.formats import POINTWISE
from models.formats.equivalence import EQUIVALENCE
from models.formats.sections import SectionedFormat
from models.verifiers import VerifierSpec
from models.verifiers.registry import reference_problem, schema_problem
from service.errors import InvalidRequest
from service.judging.items import VerificationPlan


def verification_plan(verify: VerifyIn | None, adaptive: AdaptiveIn | None = None) -> VerificationPlan | None:
    if verify is None:
        return None
    if adaptive is not None and verify.policy != "verifier":
        raise InvalidRequest("adaptive voting stops on agreeing scores; the judge of a reference answers equal or "
                             "different in both orders, so drop `adaptive` and set `votes`", param="adaptive")
    if verify.json_schema is not None:
        if verify.verifier != "json_schema":
            raise InvalidRequest(f"verify.schema is read by the json_schema verifier only, not {verify.verifier!r}; "
                                 "drop it, or use verifier 'json_schema'", param="verify.schema")
        if (problem := schema_problem(verify.json_schema)) is not None:
            raise InvalidRequest(f"verify.schema: {problem}", param="verify.schema")
    spec = VerifierSpec(verify.verifier, verify.extraction, verify.timeout_s, verify.json_schema)
    return VerificationPlan(spec, verify.policy, frozenset(verify.escalate_on), verify.verifier_weight)


def check_references(plan: VerificationPlan | None, references: Sequence[str | None],
                     param_of: Callable[[int], str]) -> None:
    """Each reference the plan checks against is one it can use; `param_of(index)` names the field at fault."""
    if plan is None:
        return
    for index, reference in enumerate(references):
        if (problem := reference_problem(plan.spec, reference)) is not None:
            raise InvalidRequest(problem, param=param_of(index))


def refuse_unread_references(plan: VerificationPlan | None, references: Sequence[str | None]) -> None:
    """`/v1/score` reads an item's `reference` only with `verify`: one sent without would be silently ignored."""
    if plan is not None:
        return
    for index, reference in enumerate(references):
        if reference is not None:
            raise InvalidRequest("a `reference` is what a rule verifier checks against, and this request has no "
                                 "`verify`; add one (e.g. {\"verifier\": \"math\"}) or drop the reference",
                                 param=f"items.{index}.reference")


def judge_format(plan: VerificationPlan | None) -> SectionedFormat:
    """The format the judge is asked in: a rubric score, or (with a verifier) equivalence with the reference."""
    if plan is None:
        return POINTWISE
    return POINTWISE if plan.policy == "verifier" else EQUIVALENCE


def engine_requests(plan: VerificationPlan | None, items: int) -> int:
    """What can be in flight on the engines at once: none for rules alone, both orders of every item at most when
    the judge may be asked (escalations are not known before verifying)."""
    if plan is None:
        return items
    return 0 if plan.policy == "verifier" else 2 * items
