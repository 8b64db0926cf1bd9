"""`BatchJudge`: what both judges do around a single item: dedup and cache, the deadline, per-item failures.

A subclass names its route, format and outcome type, and says how to judge one item (`judge_item`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Protocol, TypeVar

from service.judging.cache import JudgmentCache
from service.judging.context import ItemFailure, JudgingContext, within_deadline
from service.judging.dedup import run_deduplicated
from service.judging.items import ItemOutcome
from service.judging.keys import judgment_key
from service.judging.runner import JudgmentRunner
from service.metrics import Metrics

if TYPE_CHECKING:
    from _typeshed import DataclassInstance


class JudgedItem(Protocol):
    """An item a judge takes: a dataclass (its fields are its cache key) with an id."""

    __dataclass_fields__: ClassVar[dict[str, Any]]

    @property
    def id(self) -> str: ...


ItemT = TypeVar("ItemT", bound=JudgedItem)
SettingsT = TypeVar("SettingsT", bound="DataclassInstance")
OutcomeT = TypeVar("OutcomeT", bound=ItemOutcome)


class BatchJudge(ABC, Generic[ItemT, SettingsT, OutcomeT]):
    route: ClassVar[str]
    format_name: ClassVar[str]
    outcome_type: type[OutcomeT]

    def __init__(self, runner: JudgmentRunner, cache: JudgmentCache, metrics: Metrics) -> None:
        self._runner = runner
        self._cache = cache
        self._metrics = metrics

    async def judge_batch(self, items: Sequence[ItemT], settings: SettingsT, context: JudgingContext) -> list[OutcomeT]:
        keys = [judgment_key(context, self.format_name, settings, item) for item in items]
        cache = self._cache if self._cache.applies_to(context) else None
        return await run_deduplicated(
            [item.id for item in items], keys, lambda index: self._within_deadline(items[index], settings, context),
            cache, context.dedup, self.route, self._metrics,
        )

    @abstractmethod
    async def judge_item(self, item: ItemT, settings: SettingsT, context: JudgingContext) -> OutcomeT: ...

    def failed(self, item_id: str, failure: ItemFailure) -> OutcomeT:
        return self.outcome_type(id=item_id, status=failure.status, error=failure.message)

    async def _within_deadline(self, item: ItemT, settings: SettingsT, context: JudgingContext) -> OutcomeT:
        def timed_out(message: str) -> OutcomeT:
            return self.failed(item.id, ItemFailure("timeout", message))

        return await within_deadline(context, self.judge_item(item, settings, context), timed_out)
