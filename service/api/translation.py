"""The one place where the wire meets the judging layer: a request becomes a `JudgingContext`, items and
settings; the judges' outcomes become the response's items. Everything a request shares is resolved and
checked here, before any engine work starts, and each refusal names the field at fault.
"""

from __future__ import annotations

from collections.abc import Sequence

from genrm_wire import (
    AdaptiveIn,
    CompareItemIn,
    CompareItemOut,
    CompareRequest,
    EquivalenceOut,
    FailurePolicy,
    FailureReport,
    FlagOut,
    GroupOut,
    GroupRequest,
    ItemError,
    JudgmentOut,
    ModelRef,
    RolloutOut,
    RolloutStepsIn,
    RubricSetRef,
    ScoreItemIn,
    ScoreItemOut,
    ScoreRequest,
    StepAggregatesOut,
    StepOut,
    Usage,
    VerificationOut,
    VoteOut,
)
from models.chat import to_conversation
from models.integrity.flags import Flag
from models.steps import StepAggregates
from service.errors import InvalidRequest
from service.judging.context import JudgingContext, UsageMeter
from service.judging.failures import FailedItem, FailureHandling, RetryCounts, fill
from service.judging.group_steps import StepGroupSettings
from service.judging.groups import Group, GroupResult, GroupSettings
from service.judging.items import (
    AdaptiveVoting,
    CompareItem,
    CompareOutcome,
    CompareSettings,
    EquivalenceResult,
    ItemOutcome,
    Judgment,
    ScoreItem,
    ScoreOutcome,
    ScoreSettings,
    StepResult,
    VerificationPlan,
    VerifiedAnswer,
)


def flags_out(flags: Sequence[Flag]) -> list[FlagOut]:
    return [FlagOut(kind=flag.kind, field=flag.field, detail=flag.detail) for flag in flags]


def item_id(given: str | None, index: int) -> str:
    return given if given is not None else str(index)


def _adaptive(given: AdaptiveIn | None) -> AdaptiveVoting | None:
    if given is None:
        return None
    return AdaptiveVoting(round_votes=given.round_votes, max_stderr=given.max_stderr, min_margin=given.min_margin)


def score_items(items: Sequence[ScoreItemIn]) -> list[ScoreItem]:
    return [ScoreItem(item_id(item.id, index), to_conversation(item.prompt), item.response, item.reference)
            for index, item in enumerate(items)]


def compare_items(items: Sequence[CompareItemIn]) -> list[CompareItem]:
    return [CompareItem(item_id(item.id, index), to_conversation(item.prompt), item.response_a, item.response_b)
            for index, item in enumerate(items)]


def score_settings(body: ScoreRequest, plan: VerificationPlan | None) -> ScoreSettings:
    return ScoreSettings(votes=body.votes, aggregate=body.aggregate, adaptive=_adaptive(body.adaptive),
                         include_judgments=body.include_judgments, verification=plan, verdict=body.verdict)


def verification_out(verified: VerifiedAnswer | None) -> VerificationOut | None:
    if verified is None:
        return None
    found = verified.verification
    return VerificationOut(verifier=verified.verifier, verdict=found.verdict, extracted=found.extracted,
                           detail=found.detail, candidates=list(found.candidates))


def equivalence_out(result: EquivalenceResult | None) -> EquivalenceOut | None:
    if result is None:
        return None
    return EquivalenceOut(equivalent=result.equivalent, p_equal=result.p_equal, by_order=dict(result.by_order),
                          votes_used=result.votes_used)


def compare_settings(body: CompareRequest) -> CompareSettings:
    return CompareSettings(votes=body.votes, swap=body.swap, adaptive=_adaptive(body.adaptive),
                           include_judgments=body.include_judgments, verdict=body.verdict)


def _judgment_out(judgment: Judgment) -> JudgmentOut:
    return JudgmentOut(text=judgment.text, order=judgment.order, score=judgment.score, winner=judgment.winner,
                       failure=judgment.failure, failure_detail=judgment.failure_detail,
                       finish_reason=judgment.finish_reason, forced=judgment.forced,
                       p=None if judgment.p is None else dict(judgment.p))


def common_out(outcome: ItemOutcome) -> dict[str, object]:
    """The fields every item of a response has."""
    return {
        "id": outcome.id, "status": outcome.status, "cached": outcome.cached, "duplicate_of": outcome.duplicate_of,
        "votes_used": outcome.votes_used, "parse_failures": dict(outcome.parse_failures),
        "judgments": None if outcome.judgments is None else [_judgment_out(j) for j in outcome.judgments],
        "error": None if outcome.error is None else ItemError(type=outcome.status, message=outcome.error),
        "flags": flags_out(outcome.flags), "penalized": outcome.penalized,
    }


def score_item_out(outcome: ScoreOutcome) -> ScoreItemOut:
    return ScoreItemOut.model_validate({
        **common_out(outcome), "score": outcome.score, "scores": list(outcome.scores), "std": outcome.std,
        "decided_by": outcome.decided_by, "verification": verification_out(outcome.verified),
        "equivalence": equivalence_out(outcome.equivalence), "p": None if outcome.p is None else dict(outcome.p),
    })


def compare_item_out(outcome: CompareOutcome) -> CompareItemOut:
    votes = [VoteOut(order=vote.order, winner=vote.winner) for vote in outcome.votes]
    return CompareItemOut.model_validate({
        **common_out(outcome), "preference": outcome.preference, "p_a": outcome.p_a,
        "consistent": outcome.consistent, "votes": votes,
    })


def model_ref(context: JudgingContext) -> ModelRef:
    return ModelRef(name=context.model.name, version=context.model.version)


def rubric_ref(context: JudgingContext) -> RubricSetRef:
    return RubricSetRef(ids=context.rubrics.keys, hash=context.rubrics.content_hash, library_hash=context.library_hash)


def usage_out(meter: UsageMeter) -> Usage:
    return Usage(prompt_tokens=meter.prompt_tokens, completion_tokens=meter.completion_tokens,
                 engine_requests=meter.engine_requests)


def failure_handling(policy: FailurePolicy) -> FailureHandling:
    return FailureHandling(policy=policy.policy, neutral_value=policy.neutral_value, max_retries=policy.max_retries)


def groups_in(body: GroupRequest) -> list[Group]:
    groups = [Group(item_id(group.id, index), to_conversation(group.prompt), tuple(group.rollouts), group.reference)
              for index, group in enumerate(body.groups)]
    seen: set[str] = set()
    for index, group in enumerate(groups):
        if group.id in seen:
            raise InvalidRequest(f"group id {group.id!r} appears twice; give each group its own id",
                                 param=f"groups.{index}.id")
        seen.add(group.id)
    return groups


def group_settings(body: GroupRequest, plan: VerificationPlan | None) -> GroupSettings:
    return GroupSettings(
        mode=body.mode, votes=body.votes, adaptive=_adaptive(body.adaptive), reference_seed=body.reference_seed,
        inconsistent_reward=body.inconsistent_reward, normalize=body.normalize, rank_by=body.rank_by,
        handling=failure_handling(body.on_failure), verification=plan, steps=_step_group_settings(body),
        verdict=body.verdict,
    )


def _step_group_settings(body: GroupRequest) -> StepGroupSettings | None:
    if body.mode != "steps":
        return None
    given = body.steps or RolloutStepsIn()
    return StepGroupSettings(split=given.split, pattern=given.pattern, strategy=given.strategy, reward=given.reward)


def steps_out(results: Sequence[StepResult]) -> list[StepOut]:
    return [StepOut(index=result.step.index, start=result.step.start, end=result.step.end, verdict=result.verdict,
                    score=result.score, votes=dict(result.votes), p=None if result.p is None else dict(result.p))
            for result in results]


def step_aggregates_out(found: StepAggregates | None) -> StepAggregatesOut | None:
    if found is None:
        return None
    return StepAggregatesOut(min=found.min, mean=found.mean, last=found.last, first_error=found.first_error)


def groups_out(results: Sequence[GroupResult], handling: FailureHandling) -> list[GroupOut]:
    """Each rollout's reward, failed ones filled by the policy (`error` was raised before this)."""
    out = []
    for result in results:
        rollouts = []
        for rollout in result.rollouts:
            reward, filled = fill(rollout.reward, rollout.status, handling)
            error = None if rollout.error is None else ItemError(type=rollout.status, message=rollout.error)
            rollouts.append(RolloutOut(
                index=rollout.index, status=rollout.status, reward=reward, filled=filled, reference=rollout.reference,
                score=rollout.score, advantage=rollout.advantage, p_win=rollout.p_win,
                consistent=rollout.consistent, outcome=rollout.outcome, comparisons=rollout.comparisons, error=error,
                flags=flags_out(rollout.flags), penalized=rollout.penalized, decided_by=rollout.decided_by,
                verification=verification_out(rollout.verified), equivalence=equivalence_out(rollout.equivalence),
                steps=steps_out(rollout.steps), step_aggregates=step_aggregates_out(rollout.step_aggregates),
            ))
        out.append(GroupOut(id=result.id, reference=result.reference, rollouts=rollouts))
    return out


def failure_report(failed: Sequence[FailedItem], counts: RetryCounts, handling: FailureHandling) -> FailureReport:
    filled = handling.fills_with
    return FailureReport(policy=handling.policy, failed=len(failed), retried=counts.retried,
                         recovered=counts.recovered, filled={filled: len(failed)} if failed else {})
