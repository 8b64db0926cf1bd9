"""`VerifiedScorer`: scores items the way their request's policy says, with a rule verifier, the
reference-equivalence judge, or both; without a verification plan it is the pointwise judge.

For every item: the flags are read first (as the judges do), and an item the flag policy acts on is neither
verified nor judged. The rest are verified in the worker pool. Then, by policy:

- `verifier`: the verdict is the reward (correct 10, anything else 0); a timeout or a verifier error fails the
  item (`timeout`, `verifier_error`), so the failure policy fills it instead of a silent 0;
- `verify_then_judge`: items whose verdict is in `escalate_on` go to the judge, the rest keep the verdict;
- `judge`: the judge decides every item (the verifier still reports what it read);
- `both`: both decide every item; score = 10 × (w × verifier + (1 − w) × judge).

An `ambiguous` verdict (several distinct final answers) scores 0 under every policy and is flagged
`answer_spam`: enumerating answers never pays, and is never shown to the judge. Scores use the pointwise scale
(0-10), so the reward routes and adapters read them as they read a rubric score.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Sequence

from genrm_wire.judging import ItemStatus
from genrm_wire.verifying import DecidedBy
from models.formats.pointwise import MAX_SCORE, MIN_SCORE
from models.integrity.flags import Flag
from models.verifiers import Verification, verifier_version
from service.judging import telemetry
from service.judging.context import JudgingContext
from service.judging.equivalence import EquivalenceItem, EquivalenceJudge, EquivalenceOutcome, EquivalenceSettings
from service.judging.flagging import batch_flags
from service.judging.items import (
    ScoreItem,
    ScoreOutcome,
    ScoreSettings,
    VerificationPlan,
    VerifiedAnswer,
)
from service.judging.scoring import PointwiseJudge
from service.metrics import Metrics
from service.verifying.pool import VerifierPool

# A verdict that is no verdict: the item fails with this status (and the failure policy fills it) wherever the
# verifier's part of the reward is needed.
VERIFIER_FAILURES: dict[str, ItemStatus] = {"timeout": "timeout", "error": "verifier_error"}


class VerifiedScorer:
    def __init__(self, pointwise: PointwiseJudge, equivalence: EquivalenceJudge, pool: VerifierPool,
                 metrics: Metrics) -> None:
        self._pointwise = pointwise
        self._equivalence = equivalence
        self._pool = pool
        self._metrics = metrics

    async def judge_batch(self, items: Sequence[ScoreItem], settings: ScoreSettings,
                          context: JudgingContext) -> list[ScoreOutcome]:
        plan = settings.verification
        if plan is None:
            return await self._pointwise.judge_batch(items, settings, context)
        responses = [(("response", item.response),) for item in items]
        flags = batch_flags(context.model.flag_detector, [item.prompt for item in items], responses)
        acted = [bool(context.flag_action.acted_fields(item_flags)) for item_flags in flags]
        checked = [index for index, skip in enumerate(acted) if not skip]
        verifications = dict(zip(checked, await self._verify(plan, [items[i] for i in checked], context),
                                 strict=True))
        flags = [(*item_flags, *_spam_flags(verifications.get(index)))
                 for index, item_flags in enumerate(flags)]
        telemetry.record_flags(self._metrics, context, responses, flags)
        acted = [bool(context.flag_action.acted_fields(item_flags)) for item_flags in flags]  # `answer_spam` too
        judged = [index for index in checked if not acted[index] and _asks_judge(plan, verifications[index])]
        answers = await self._judge(plan, [(items[i], verifications[i]) for i in judged], settings, context)
        by_index = dict(zip(judged, answers, strict=True))
        version = verifier_version(plan.spec.name)
        outcomes = []
        for index, item in enumerate(items):
            if acted[index]:
                outcomes.append(self._flag_acted(item, flags[index], context))
                continue
            verified = VerifiedAnswer(version, verifications[index])
            outcome = _decide(item.id, plan, verified, by_index.get(index))
            self._count(plan, verified.verification, by_index.get(index))
            outcomes.append(dataclasses.replace(outcome, flags=flags[index]))
        return outcomes

    async def _verify(self, plan: VerificationPlan, items: Sequence[ScoreItem],
                      context: JudgingContext) -> list[Verification]:
        started = time.monotonic()
        work = self._pool.verify(plan.spec, [(item.response, item.reference or "") for item in items])
        try:
            verifications = await asyncio.wait_for(work, timeout=max(context.remaining_s(), 0.0))
        except TimeoutError:
            late = Verification("timeout", detail=f"the request's deadline of {context.timeout_s:g} s passed "
                                "before the verifier finished")
            verifications = [late] * len(items)
        self._metrics.verifier_seconds.labels(plan.spec.name).observe(time.monotonic() - started)
        for verification in verifications:
            self._metrics.verifier_verdicts.labels(plan.spec.name, verification.verdict).inc()
        return verifications

    async def _judge(self, plan: VerificationPlan, asked: Sequence[tuple[ScoreItem, Verification]],
                     settings: ScoreSettings, context: JudgingContext) -> list[EquivalenceOutcome]:
        if not asked:
            return []
        for _, verification in asked:
            if plan.policy == "verify_then_judge":
                self._metrics.verifier_escalations.labels(plan.spec.name, verification.verdict).inc()
        items = [EquivalenceItem(item.id, item.prompt, item.reference or "", verification.extracted or item.response)
                 for item, verification in asked]
        asked_settings = EquivalenceSettings(settings.votes, settings.include_judgments)
        return await self._equivalence.judge_unflagged(items, asked_settings, context)

    def _flag_acted(self, item: ScoreItem, flags: tuple[Flag, ...], context: JudgingContext) -> ScoreOutcome:
        if context.flag_action.policy == "mask":
            return ScoreOutcome(id=item.id, status="flagged", error=context.flag_action.mask_message(flags),
                                flags=flags)
        return ScoreOutcome(id=item.id, status="ok", score=MIN_SCORE, scores=(MIN_SCORE,), flags=flags,
                            penalized=True)

    def _count(self, plan: VerificationPlan, verification: Verification,
               judged: EquivalenceOutcome | None) -> None:
        if judged is None or judged.result is None or verification.verdict not in ("correct", "incorrect"):
            return
        if verification.passed != judged.result.equivalent:
            direction = "judge_accepts" if judged.result.equivalent else "judge_rejects"
            self._metrics.verifier_disagreements.labels(plan.spec.name, direction).inc()


def _spam_flags(verification: Verification | None) -> tuple[Flag, ...]:
    if verification is None or verification.verdict != "ambiguous":
        return ()
    listed = ", ".join(repr(candidate[:40]) for candidate in verification.candidates[:5])
    return (Flag("answer_spam", "response", f"{len(verification.candidates)} distinct final answers: {listed}"),)


def _asks_judge(plan: VerificationPlan, verification: Verification) -> bool:
    if verification.verdict == "ambiguous" or plan.policy == "verifier":
        return False
    if plan.policy == "verify_then_judge":
        return verification.verdict in plan.escalate_on
    return True


def _decide(item_id: str, plan: VerificationPlan, verified: VerifiedAnswer,
            judged: EquivalenceOutcome | None) -> ScoreOutcome:
    verification = verified.verification
    verifier_score = MAX_SCORE if verification.passed else MIN_SCORE
    failed = VERIFIER_FAILURES.get(verification.verdict)
    if failed is not None and (judged is None or plan.policy == "both"):  # the verifier's part is missing
        return ScoreOutcome(id=item_id, status=failed, error=f"{verified.verifier}: {verification.detail}",
                            decided_by="verifier", verified=verified)
    if judged is None:
        return ScoreOutcome(id=item_id, status="ok", score=verifier_score, scores=(verifier_score,),
                            decided_by="verifier", verified=verified)
    if judged.status != "ok" or judged.result is None:
        return ScoreOutcome(id=item_id, status=judged.status, error=judged.error, parse_failures=judged.parse_failures,
                            decided_by="judge", verified=verified, cached=judged.cached, judgments=judged.judgments)
    judge_score = MAX_SCORE if judged.result.equivalent else MIN_SCORE
    decided_by: DecidedBy = "both" if plan.policy == "both" else "judge"
    score = judge_score
    if plan.policy == "both":
        score = plan.verifier_weight * verifier_score + (1 - plan.verifier_weight) * judge_score
    return ScoreOutcome(id=item_id, status="ok", score=score, scores=(score,), votes_used=judged.votes_used,
                        parse_failures=judged.parse_failures, cached=judged.cached, judgments=judged.judgments,
                        decided_by=decided_by, verified=verified, equivalence=judged.result)
