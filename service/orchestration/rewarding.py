"""What every reward route does around the group judge: resolve, admit, judge, count failures, and apply the
`error` policy. `/v1/groups` and the trainer adapters differ only in their shapes, which `RewardRoute` names."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from genrm_wire import JudgingRequest
from models.formats import PAIRWISE, POINTWISE
from models.formats.sections import SectionedFormat
from models.steps import SplitError
from service.auth.quota import Quotas
from service.errors import InvalidRequest
from service.judging.context import JudgingContext
from service.judging.failures import FailedItem, RetryCounts, raise_for_error_policy
from service.judging.group_steps import SplitRollout
from service.judging.group_steps import engine_requests as step_requests
from service.judging.group_steps import widest_format as step_format
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
    plan = _step_plan(groups, settings, count) if settings.mode == "steps" else _judging_plan(settings, count)
    context = services.resolver.context(body, plan.judged_in, count, settings.votes, timeout_header,
                                        items_param=route.items_param, orders=plan.orders)
    async with admitted(services.quotas, services.metrics, caller.key, context, plan.in_flight, settings.votes):
        work = services.groups.judge(groups, settings, context, plan.cut)
        results, retries = await cancel_on_disconnect(caller.disconnected, work, services.metrics, route.name)
    failed = [FailedItem(route.path_of(g, rollout.index), rollout.status, rollout.error or "")
              for g, result in enumerate(results) for rollout in result.rollouts if rollout.status != "ok"]
    _count(services.metrics, route.name, results, failed, settings, retries)
    caller.record(context, count)
    raise_for_error_policy(failed, settings.handling)
    return RewardRun(context, results, failed, retries)


@dataclass(frozen=True)
class _Plan:
    """The judge format a run is sized on, engine requests per item (`orders`), in all (`in_flight`), and in
    `steps` mode the rollouts cut into steps."""

    judged_in: SectionedFormat
    orders: int
    in_flight: int
    cut: Sequence[SplitRollout] = ()


def _judging_plan(settings: GroupSettings, count: int) -> _Plan:
    pointwise = settings.mode == "pointwise"
    judged_in = judge_format(settings.verification) if pointwise else PAIRWISE
    orders = 1 if judged_in is POINTWISE else 2
    in_flight = engine_requests(settings.verification, count) if pointwise else count * orders
    return _Plan(judged_in, orders, in_flight)


def _step_plan(groups: Sequence[Group], settings: GroupSettings, count: int) -> _Plan:
    """`steps` mode: a `regex` that does not compile is the request's mistake (422 on `steps.pattern`)."""
    assert settings.steps is not None, "steps mode has step settings"
    try:
        cut = GroupJudge.cut_rollouts(groups, settings.steps)
    except SplitError as error:
        raise InvalidRequest(str(error), param=f"steps.{error.field}") from None
    requests = step_requests(cut, settings.steps.strategy)
    return _Plan(step_format(cut, settings.steps.strategy), max(1, -(-requests // count)), requests, cut)


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
