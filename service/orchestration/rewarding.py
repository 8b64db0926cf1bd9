"""What every reward route does around the group judge: resolve, admit, judge, count failures, and apply the
`error` policy. `/v1/groups` and the trainer adapters differ only in their shapes, which `RewardRoute` names."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from genrm_wire import JudgingRequest
from models.formats import PAIRWISE, POINTWISE
from service.auth.quota import Quotas
from service.judging.context import JudgingContext
from service.judging.failures import FailedItem, RetryCounts, raise_for_error_policy
from service.judging.groups import Group, GroupJudge, GroupResult, GroupSettings
from service.metrics import Metrics
from service.orchestration.admitting import admitted
from service.orchestration.cancellation import Disconnected, cancel_on_disconnect
from service.orchestration.resolving import Resolver
from service.verifying.planning import check_references, engine_requests, judge_format


@dataclass(frozen=True)
class RewardRoute:
    """A reward route's shape: its name (metrics), the request field that holds what is judged (limits), and
    where a rollout and a group's reference sit in the request, as templates of `group` and `rollout` (failure
    messages, `param`)."""

    name: str
    items_param: str
    rollout_path: str
    reference_path: str

    def path_of(self, group: int, rollout: int) -> str:
        return self.rollout_path.format(group=group, rollout=rollout)


GROUPS_ROUTE = RewardRoute("/v1/groups", "groups", "groups.{group}.rollouts.{rollout}", "groups.{group}.reference")


@dataclass(frozen=True)
class Caller:
    """Who asked: the API key's name (quota, fair share, metrics), how to notice that they went away, and where
    the HTTP layer records what was judged (its access line), also for a request the `error` policy then fails."""

    key: str
    disconnected: Disconnected
    record: Callable[[JudgingContext, int], None] = lambda context, items: None


class RewardServices(Protocol):
    """What a reward run needs from the running service (`service.state.AppState` has it)."""

    @property
    def resolver(self) -> Resolver: ...

    @property
    def groups(self) -> GroupJudge: ...

    @property
    def quotas(self) -> Quotas: ...

    @property
    def metrics(self) -> Metrics: ...


@dataclass(frozen=True)
class RewardRun:
    context: JudgingContext
    results: list[GroupResult]
    failed: list[FailedItem]
    retries: RetryCounts


async def judge_groups(services: RewardServices, caller: Caller, route: RewardRoute, body: JudgingRequest,
                       groups: Sequence[Group], settings: GroupSettings, timeout_header: float | None) -> RewardRun:
    check_references(settings.verification, [group.reference for group in groups],
                     lambda index: route.reference_path.format(group=index))
    count = GroupJudge.item_count(groups, settings.mode)
    pointwise = settings.mode == "pointwise"
    judged_in = judge_format(settings.verification) if pointwise else PAIRWISE
    orders = 1 if judged_in is POINTWISE else 2
    in_flight = engine_requests(settings.verification, count) if pointwise else count * orders
    context = services.resolver.context(body, judged_in, count, settings.votes, timeout_header,
                                        items_param=route.items_param, orders=orders)
    with admitted(services.quotas, services.metrics, caller.key, context, in_flight, settings.votes):
        work = services.groups.judge(groups, settings, context)
        results, retries = await cancel_on_disconnect(caller.disconnected, work, services.metrics, route.name)
    failed = [FailedItem(route.path_of(g, rollout.index), rollout.status, rollout.error or "")
              for g, result in enumerate(results) for rollout in result.rollouts if rollout.status != "ok"]
    _count(services.metrics, route.name, results, failed, settings, retries)
    caller.record(context, count)
    raise_for_error_policy(failed, settings.handling)
    return RewardRun(context, results, failed, retries)


def _count(metrics: Metrics, route: str, results: Sequence[GroupResult], failed: Sequence[FailedItem],
           settings: GroupSettings, retries: RetryCounts) -> None:
    policy = settings.handling.policy
    for result in results:
        for rollout in result.rollouts:
            metrics.items.labels(route, rollout.status).inc()
    filled = "raised" if policy == "error" else settings.handling.fills_with
    for item in failed:
        metrics.failed_rewards.labels(route, policy, item.status, filled).inc()
    metrics.retried_items.labels(route, "recovered").inc(retries.recovered)
    metrics.retried_items.labels(route, "failed").inc(retries.retried - retries.recovered)
