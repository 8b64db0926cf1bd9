"""`GroupJudge`: a reward for every rollout of every group, from one batch of judgments.

Each mode turns the groups into items for the existing judges, so dedup, the cache, the deadline and prefix
affinity (a group's items share a prompt, so they share an engine) work as for any batch:

- `brpo`: one comparison per rollout against the group's drawn reference, both orders;
- `round_robin`: one comparison per pair of rollouts, both orders;
- `pointwise`: one scored item per rollout;
- `steps`: each rollout cut into steps and judged by the step judge (`group_steps`).

A rollout whose judgment failed keeps its status and message; the route fills its reward by the policy. The
deadline is per item: when it passes, finished rollouts keep their rewards and the rest come back `timeout`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from genrm_wire.judging import ItemStatus, VerdictMode
from genrm_wire.rewards import BRPOOutcome
from genrm_wire.verifying import DecidedBy
from models.chat import Conversation
from models.integrity.flags import Flag
from models.steps import StepAggregates
from service.judging.aggregation import Aggregate
from service.judging.comparing import PairwiseJudge
from service.judging.context import JudgingContext
from service.judging.failures import FailureHandling, RetryCounts, judge_with_retries
from service.judging.group_rewards import (
    bradley_terry,
    brpo_outcome,
    brpo_probability_outcome,
    brpo_probability_reward,
    brpo_reward,
    draw_reference,
    group_advantages,
    win_rates,
)
from service.judging.group_steps import (
    SplitRollout,
    StepGroupSettings,
    judge_split_rollouts,
    reward_of,
    rollout_flags,
    split_rollouts,
)
from service.judging.items import (
    AdaptiveVoting,
    CompareItem,
    CompareOutcome,
    CompareSettings,
    EquivalenceResult,
    ItemOutcome,
    ScoreItem,
    ScoreOutcome,
    ScoreSettings,
    StepOutcome,
    StepResult,
    StepSettings,
    VerificationPlan,
    VerifiedAnswer,
)
from service.judging.scoring import ScoreBatchJudge
from service.judging.steps import StepJudge

AGGREGATE: Aggregate = "mean"


@dataclass(frozen=True)
class Group:
    id: str
    prompt: Conversation
    rollouts: tuple[str, ...]
    # brpo: a given reference text instead of a drawn rollout; pointwise with a verifier: what it checks against
    reference: str | None = None


GroupMode = Literal["brpo", "pointwise", "round_robin", "steps"]


@dataclass(frozen=True)
class GroupSettings:
    mode: GroupMode
    votes: int
    adaptive: AdaptiveVoting | None
    reference_seed: int
    inconsistent_reward: float
    normalize: bool
    rank_by: Literal["win_rate", "bradley_terry"]
    handling: FailureHandling
    verification: VerificationPlan | None = None  # pointwise: a rule verifier's plan, with each group's reference
    steps: StepGroupSettings | None = None  # steps: how rollouts are cut and judged
    verdict: VerdictMode = "sampled"  # how each judgment's verdict is read


@dataclass(frozen=True)
class RolloutReward:
    """One rollout's raw reward (None when its judgment failed: `status` and `error` say why)."""

    index: int
    status: ItemStatus
    reward: float | None
    error: str | None = None
    reference: bool = False
    score: float | None = None
    advantage: float | None = None
    p_win: float | None = None
    consistent: bool | None = None
    outcome: BRPOOutcome | None = None
    comparisons: int = 0
    flags: tuple[Flag, ...] = ()
    penalized: bool = False
    decided_by: DecidedBy | None = None  # pointwise with a verifier
    verified: VerifiedAnswer | None = None
    equivalence: EquivalenceResult | None = None
    steps: tuple[StepResult, ...] = ()  # steps mode
    step_aggregates: StepAggregates | None = None


@dataclass(frozen=True)
class GroupResult:
    id: str
    reference: int | None
    rollouts: tuple[RolloutReward, ...]


class GroupJudge:
    def __init__(self, pointwise: ScoreBatchJudge, pairwise: PairwiseJudge, steps: StepJudge) -> None:
        self._pointwise = pointwise
        self._pairwise = pairwise
        self._steps = steps

    @staticmethod
    def item_count(groups: Sequence[Group], mode: GroupMode) -> int:
        """Judged items (comparisons or scored rollouts) the groups make: what limits and admission count."""
        if mode == "brpo":
            return sum(len(group.rollouts) - (group.reference is None) for group in groups)
        if mode == "round_robin":
            return sum(len(group.rollouts) * (len(group.rollouts) - 1) // 2 for group in groups)
        return sum(len(group.rollouts) for group in groups)

    @staticmethod
    def cut_rollouts(groups: Sequence[Group], settings: StepGroupSettings) -> list[SplitRollout]:
        """`steps` mode: every rollout cut into its steps (what admission and the answer budget are sized on)."""
        return split_rollouts([(_rollout_id(group, index), group.prompt, rollout) for group in groups
                               for index, rollout in enumerate(group.rollouts)], settings)

    async def judge(
        self, groups: Sequence[Group], settings: GroupSettings, context: JudgingContext,
        cut: Sequence[SplitRollout] = (),
    ) -> tuple[list[GroupResult], RetryCounts]:
        """Every group's rewards; `steps` mode judges `cut`, its rollouts as `cut_rollouts` split them."""
        if settings.mode == "pointwise":
            return await self._pointwise_groups(groups, settings, context)
        if settings.mode == "steps":
            return await self._step_groups(groups, settings, context, cut)
        brpo = settings.mode == "brpo"
        references = [draw_reference(settings.reference_seed, group.id, len(group.rollouts))
                      if brpo and group.reference is None else None for group in groups]
        items = [item for group, reference in zip(groups, references, strict=True)
                 for item in (_against_reference(group, reference) if brpo else _all_pairs(group))]
        compare = CompareSettings(votes=settings.votes, swap=True, adaptive=settings.adaptive, include_judgments=False,
                                  verdict=settings.verdict)
        outcomes, counts = await judge_with_retries(
            lambda batch, ctx: self._pairwise.judge_batch(batch, compare, ctx), items, context, settings.handling
        )
        by_id = {outcome.id: outcome for outcome in outcomes}
        results = [
            _brpo_group(group, reference, by_id, settings) if brpo else _round_robin_group(group, by_id, settings)
            for group, reference in zip(groups, references, strict=True)
        ]
        return results, counts

    async def _pointwise_groups(
        self, groups: Sequence[Group], settings: GroupSettings, context: JudgingContext
    ) -> tuple[list[GroupResult], RetryCounts]:
        items = [ScoreItem(_rollout_id(group, index), group.prompt, rollout, group.reference)
                 for group in groups for index, rollout in enumerate(group.rollouts)]
        score = ScoreSettings(votes=settings.votes, aggregate=AGGREGATE, adaptive=settings.adaptive,
                              include_judgments=False, verification=settings.verification,
                              verdict=settings.verdict)
        outcomes, counts = await judge_with_retries(
            lambda batch, ctx: self._pointwise.judge_batch(batch, score, ctx), items, context, settings.handling
        )
        by_id = {outcome.id: outcome for outcome in outcomes}
        results = []
        for group in groups:
            scored = [by_id[_rollout_id(group, index)] for index in range(len(group.rollouts))]
            scores = [outcome.score if outcome.status == "ok" else None for outcome in scored]
            advantages = group_advantages(scores) if settings.normalize else [None] * len(scored)
            results.append(GroupResult(group.id, None, tuple(
                _scored_rollout(index, outcome, advantage)
                for index, (outcome, advantage) in enumerate(zip(scored, advantages, strict=True)))))
        return results, counts

    async def _step_groups(self, groups: Sequence[Group], settings: GroupSettings, context: JudgingContext,
                           cut: Sequence[SplitRollout]) -> tuple[list[GroupResult], RetryCounts]:
        assert settings.steps is not None, "steps mode has step settings"
        step_settings = settings.steps
        judged = await judge_split_rollouts(
            self._steps, cut, StepSettings(step_settings.strategy, settings.votes, False, settings.verdict), context,
            settings.handling)
        results = []
        for group in groups:
            outcomes = [judged.by_id[_rollout_id(group, index)] for index in range(len(group.rollouts))]
            rewards = [reward_of(outcome, step_settings.reward) for outcome in outcomes]
            advantages = group_advantages(rewards) if settings.normalize else [None] * len(rewards)
            rollouts = tuple(_stepped_rollout(index, outcome, reward, advantage) for index, (outcome, reward, advantage)
                             in enumerate(zip(outcomes, rewards, advantages, strict=True)))
            results.append(GroupResult(group.id, None, rollouts))
        return results, judged.retries


def _stepped_rollout(index: int, outcome: StepOutcome, reward: float | None, advantage: float | None) -> RolloutReward:
    """A `steps` rollout: its reward (the chosen aggregate), its steps (also a failed one's, as far as judged)."""
    return RolloutReward(index, outcome.status, reward, error=outcome.error, score=reward, advantage=advantage,
                         flags=rollout_flags(outcome), penalized=outcome.penalized, steps=outcome.steps,
                         step_aggregates=outcome.aggregates)


def _scored_rollout(index: int, outcome: ScoreOutcome, advantage: float | None) -> RolloutReward:
    """A pointwise rollout's reward: its score, or its failure; with who decided it when a verifier was asked."""
    failed = outcome.status != "ok" or outcome.score is None
    return RolloutReward(index, outcome.status, None if failed else outcome.score, error=outcome.error,
                         score=None if failed else outcome.score, advantage=advantage, flags=outcome.flags,
                         penalized=outcome.penalized, decided_by=outcome.decided_by, verified=outcome.verified,
                         equivalence=outcome.equivalence)


def _rollout_id(group: Group, index: int) -> str:
    return f"{group.id}/{index}"


def _pair_id(group: Group, first: int, second: int) -> str:
    return f"{group.id}/{first}-{second}"


def _reference_id(group: Group, index: int, reference: int | None) -> str:
    return _pair_id(group, index, reference) if reference is not None else f"{group.id}/{index}-reference"


def _against_reference(group: Group, reference: int | None) -> list[CompareItem]:
    """BRPO: each rollout (as A) against the drawn rollout or the given reference text (as B)."""
    text = group.rollouts[reference] if reference is not None else group.reference
    assert text is not None, "a brpo group has a drawn or a given reference"
    return [CompareItem(_reference_id(group, index, reference), group.prompt, rollout, text)
            for index, rollout in enumerate(group.rollouts) if index != reference]


def _all_pairs(group: Group) -> list[CompareItem]:
    """Round robin: each pair (i < j) as (A, B); both orders are judged."""
    rollouts = group.rollouts
    return [CompareItem(_pair_id(group, i, j), group.prompt, rollouts[i], rollouts[j])
            for i in range(len(rollouts)) for j in range(i + 1, len(rollouts))]


def _failed(index: int, outcome: ItemOutcome, flags: tuple[Flag, ...]) -> RolloutReward:
    return RolloutReward(index, outcome.status, None, error=outcome.error, flags=flags)


def _penalized_sides(outcome: CompareOutcome) -> set[str]:
    """The sides `on_flag: penalize` made lose: the one with no share of the win, both in a penalized tie."""
    if not outcome.penalized:
        return set()
    return {"response_a"} if outcome.p_a == 0 else {"response_b"} if outcome.p_a == 1 else {"response_a", "response_b"}


def _flags_of(outcome: CompareOutcome, field: str) -> tuple[Flag, ...]:
    """The flags of one side of a comparison, as the rollout's own (`response`)."""
    return tuple(Flag(flag.kind, "response", flag.detail) for flag in outcome.flags if flag.field == field)


def _brpo_group(group: Group, reference: int | None, by_id: dict[str, CompareOutcome],
                settings: GroupSettings) -> GroupResult:
    rollouts = []
    compared = [by_id[_reference_id(group, index, reference)] for index in range(len(group.rollouts))
                if index != reference]
    for index in range(len(group.rollouts)):
        if index == reference:
            flags = _flags_of(compared[0], "response_b")
            lost = any("response_b" in _penalized_sides(outcome) for outcome in compared)
            rollouts.append(RolloutReward(index, "ok", 0.0, reference=True, flags=flags, penalized=lost))
            continue
        outcome = by_id[_reference_id(group, index, reference)]
        flags = _flags_of(outcome, "response_a")
        if outcome.status != "ok" or outcome.p_a is None:
            rollouts.append(_failed(index, outcome, flags))
            continue
        if settings.verdict == "sampled":
            result = brpo_outcome(outcome.p_a, outcome.consistent)
            reward = brpo_reward(result, settings.inconsistent_reward)
        else:
            result = brpo_probability_outcome(outcome.p_a, outcome.consistent)
            reward = brpo_probability_reward(outcome.p_a)
        rollouts.append(RolloutReward(index, "ok", reward, p_win=outcome.p_a, consistent=outcome.consistent,
                                      outcome=result, comparisons=1, flags=flags,
                                      penalized="response_a" in _penalized_sides(outcome)))
    return GroupResult(group.id, reference, tuple(rollouts))


def _round_robin_group(group: Group, by_id: dict[str, CompareOutcome], settings: GroupSettings) -> GroupResult:
    size = len(group.rollouts)
    pair_wins: dict[tuple[int, int], float] = {}
    first_failure: dict[int, CompareOutcome] = {}
    flags: dict[int, tuple[Flag, ...]] = {}
    penalized: set[int] = set()
    for i in range(size):
        for j in range(i + 1, size):
            outcome = by_id[_pair_id(group, i, j)]
            flags.setdefault(i, _flags_of(outcome, "response_a"))
            flags.setdefault(j, _flags_of(outcome, "response_b"))
            penalized.update(side for side, field in ((i, "response_a"), (j, "response_b"))
                             if field in _penalized_sides(outcome))
            if outcome.status == "ok" and outcome.p_a is not None:
                pair_wins[(i, j)] = outcome.p_a
            else:
                first_failure.setdefault(i, outcome)
                first_failure.setdefault(j, outcome)
    rates = win_rates(pair_wins)
    strengths = bradley_terry(pair_wins) if settings.rank_by == "bradley_terry" and pair_wins else {}
    rollouts = []
    for index in range(size):
        if index not in rates:
            rollouts.append(_failed(index, first_failure[index], flags.get(index, ())))
            continue
        judged = sum(1 for pair in pair_wins if index in pair)
        reward = strengths[index] if settings.rank_by == "bradley_terry" else rates[index]
        rollouts.append(RolloutReward(index, "ok", reward, p_win=rates[index], comparisons=judged,
                                      flags=flags.get(index, ()), penalized=index in penalized))
    return GroupResult(group.id, None, tuple(rollouts))
