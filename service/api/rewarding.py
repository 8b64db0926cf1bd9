"""What every reward route does around the group judge: resolve, admit, judge, count failures, and apply the
`error` policy. `/v1/groups` and the trainer adapters differ only in their shapes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from fastapi import Request

from genrm_wire import JudgingRequest
from models.formats import PAIRWISE, POINTWISE
from service.api.access_log import note_judging
from service.api.admitting import admitted
from service.api.cancellation import cancel_on_disconnect
from service.judging.context import JudgingContext
from service.judging.failures import FailedItem, RetryCounts, raise_for_error_policy
from service.judging.groups import Group, GroupJudge, GroupResult, GroupSettings
from service.state import AppState

# Where a failed rollout sits in the request, for messages and `param`: (group index, rollout index) -> path.
PathOf = Callable[[int, int], str]


@dataclass(frozen=True)
class RewardRun:
    context: JudgingContext
    results: list[GroupResult]
    failed: list[FailedItem]
    retries: RetryCounts


async def judge_groups(
    state: AppState, request: Request, route: str, body: JudgingRequest, groups: Sequence[Group],
    settings: GroupSettings, timeout_header: float | None, path_of: PathOf, items_param: str,
) -> RewardRun:
    count = GroupJudge.item_count(groups, settings.mode)
    pointwise = settings.mode == "pointwise"
    orders = 1 if pointwise else 2
    context = state.resolver.context(body, POINTWISE if pointwise else PAIRWISE, count, settings.votes,
                                     timeout_header, items_param=items_param, orders=orders)
    with admitted(state, request, context, count * orders, settings.votes):
        work = state.groups.judge(groups, settings, context)
        results, retries = await cancel_on_disconnect(request, work, state.metrics, route)
    failed = [FailedItem(path_of(g, rollout.index), rollout.status, rollout.error or "")
              for g, result in enumerate(results) for rollout in result.rollouts if rollout.status != "ok"]
    _count(state, route, results, failed, settings, retries)
    note_judging(request, context, count)
    raise_for_error_policy(failed, settings.handling)
    return RewardRun(context, results, failed, retries)


def _count(state: AppState, route: str, results: Sequence[GroupResult], failed: Sequence[FailedItem],
           settings: GroupSettings, retries: RetryCounts) -> None:
    metrics, policy = state.metrics, settings.handling.policy
    for result in results:
        for rollout in result.rollouts:
            metrics.items.labels(route, rollout.status).inc()
    filled = "raised" if policy == "error" else settings.handling.fills_with
    for item in failed:
        metrics.failed_rewards.labels(route, policy, item.status, filled).inc()
    metrics.retried_items.labels(route, "recovered").inc(retries.recovered)
    metrics.retried_items.labels(route, "failed").inc(retries.retried - retries.recovered)
