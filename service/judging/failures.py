"""The failure policy: a failed judgment is never a silent reward.

`judge_with_retries` runs a batch and, under `retry`, judges its failed items again (a seeded request moves
its seed each round, or the retry would repeat the failure). `fill` turns a failed item's reward into what the
policy says and reports how it was filled.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Literal, TypeVar

from service.errors import InvalidRequest, JudgmentFailed
from service.judging.context import JudgingContext
from service.judging.items import ItemOutcome

PolicyName = Literal["mask", "neutral", "retry", "error"]
Filled = Literal["masked", "neutral"]
ItemT = TypeVar("ItemT")
# Judging these again would fail the same way: the item is too long, or the flag policy masks it.
UNRETRIED = frozenset({"ok", "too_long", "flagged"})
OutcomeT = TypeVar("OutcomeT", bound=ItemOutcome)


@dataclass(frozen=True)
class FailureHandling:
    """`can_mask` is False for trainers that cannot leave a sample out (OpenRLHF, slime, verl): there a
    masked reward is filled with `neutral_value` instead, and flagged."""

    policy: PolicyName = "mask"
    neutral_value: float = 0.0
    max_retries: int = 1
    can_mask: bool = True

    @property
    def fills_with(self) -> Filled:
        return "neutral" if self.policy == "neutral" or not self.can_mask else "masked"


@dataclass(frozen=True)
class FailedItem:
    """A failed judgment, named by its place in the request (`groups.0.rollouts.2`)."""

    path: str
    status: str
    message: str


@dataclass(frozen=True)
class RetryCounts:
    retried: int = 0
    recovered: int = 0


def fill(reward: float | None, status: str, handling: FailureHandling) -> tuple[float | None, Filled | None]:
    """The reward to report, and how it was filled (None when the judgment succeeded)."""
    if status == "ok":
        return reward, None
    if handling.fills_with == "neutral":
        return handling.neutral_value, "neutral"
    return None, "masked"  # mask, and retry once its rounds are spent; `error` never gets here


async def judge_with_retries(
    judge: Callable[[Sequence[ItemT], JudgingContext], Awaitable[list[OutcomeT]]],
    items: Sequence[ItemT],
    context: JudgingContext,
    handling: FailureHandling,
) -> tuple[list[OutcomeT], RetryCounts]:
    outcomes = await judge(items, context)
    if handling.policy != "retry":
        return outcomes, RetryCounts()
    retried: set[int] = set()
    for attempt in range(1, handling.max_retries + 1):
        failed = [i for i, outcome in enumerate(outcomes) if outcome.status not in UNRETRIED]
        if not failed or context.remaining_s() <= 0:
            break
        retried.update(failed)
        again = await judge([items[i] for i in failed], _moved_seed(context, attempt))
        for index, outcome in zip(failed, again, strict=True):
            outcomes[index] = outcome
    recovered = sum(1 for index in retried if outcomes[index].status == "ok")
    return outcomes, RetryCounts(retried=len(retried), recovered=recovered)


def _moved_seed(context: JudgingContext, attempt: int) -> JudgingContext:
    """The same context (and usage meter), with a seeded request's seed moved by `attempt`."""
    if context.sampling.seed is None:
        return context
    sampling = dataclasses.replace(context.sampling, seed=context.sampling.seed + attempt)
    return dataclasses.replace(context, sampling=sampling)


def raise_for_error_policy(failed: Sequence[FailedItem], handling: FailureHandling) -> None:
    """Under `error`, any failed item fails the request: 422 when the items themselves are at fault (too long,
    or flagged under `on_flag: mask`), 502 otherwise. The message names the items."""
    if handling.policy != "error" or not failed:
        return
    listed = "; ".join(f"{item.path}: {item.status} ({item.message})" for item in failed[:5])
    more = f" and {len(failed) - 5} more" if len(failed) > 5 else ""
    too_long = [item for item in failed if item.status == "too_long"]
    if too_long:
        raise InvalidRequest(f"{len(too_long)} item(s) too long for the judge under on_failure=error: {listed}"
                             f"{more}. Shorten them, or use on_failure=mask", param=too_long[0].path)
    flagged = [item for item in failed if item.status == "flagged"]
    if flagged:
        raise InvalidRequest(f"{len(flagged)} item(s) flagged under on_flag=mask and on_failure=error: {listed}"
                             f"{more}. Use on_flag=flag or penalize, or on_failure=mask", param=flagged[0].path)
    raise JudgmentFailed(f"{len(failed)} judgment(s) failed under on_failure=error: {listed}{more}. Retry, or "
                         "use on_failure=retry or mask", param=failed[0].path)
