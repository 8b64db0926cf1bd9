"""`BatchJudge`: what both judges do around a single item: flags, dedup and cache, the deadline, per-item
failures.

A subclass names its route, format and outcome type, and says how to judge one item (`judge_item`), which texts
of an item are under evaluation (`responses`), and what an item gets when the flag policy penalizes it.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Protocol, TypeVar

from models.chat import Conversation
from service.judging import telemetry
from service.judging.cache import JudgmentCache
from service.judging.cache_keys import judgment_key
from service.judging.context import ItemFailure, JudgingContext, within_deadline
from service.judging.dedup import run_deduplicated
from service.judging.flagging import Responses, batch_flags
from service.judging.items import ItemOutcome
from service.judging.runner import JudgmentRunner
from service.metrics import Metrics

if TYPE_CHECKING:
    from _typeshed import DataclassInstance


class JudgedItem(Protocol):
    """An item a judge takes: a dataclass (its fields are its cache key) with an id."""

    __dataclass_fields__: ClassVar[dict[str, Any]]

    @property
    def id(self) -> str: ...

    @property
    def prompt(self) -> Conversation: ...


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
        """Every item's outcome, in order, each carrying its flags; items the flag policy acts on are not judged."""
        responses = [self.responses(item) for item in items]
        flags = batch_flags(context.model.flag_detector, [item.prompt for item in items], responses)
        telemetry.record_flags(self._metrics, context, responses, flags)
        acted = [context.flag_action.acted_fields(item_flags) for item_flags in flags]
        judged = [index for index, fields in enumerate(acted) if not fields]
        outcomes = iter(await self._judge_all([items[index] for index in judged], settings, context))
        results = []
        for item, item_flags, fields in zip(items, flags, acted, strict=True):
            if not fields:
                results.append(dataclasses.replace(next(outcomes), flags=item_flags))
            elif context.flag_action.policy == "mask":
                message = context.flag_action.mask_message(item_flags)
                results.append(self.outcome_type(id=item.id, status="flagged", error=message, flags=item_flags))
            else:
                results.append(dataclasses.replace(self.penalized(item, fields), flags=item_flags, penalized=True))
        return results

    async def judge_unflagged(self, items: Sequence[ItemT], settings: SettingsT,
                              context: JudgingContext) -> list[OutcomeT]:
        """Every item judged (dedup, cache, deadline), for a caller that has already screened and acted on the
        items' flags itself."""
        return await self._judge_all(items, settings, context)

    @abstractmethod
    async def judge_item(self, item: ItemT, settings: SettingsT, context: JudgingContext) -> OutcomeT: ...

    @abstractmethod
    def responses(self, item: ItemT) -> Responses:
        """The item's texts under evaluation, by field name (what the flags read)."""

    @abstractmethod
    def penalized(self, item: ItemT, fields: set[str]) -> OutcomeT:
        """The item's result when `on_flag: penalize` acts on the flags of `fields`."""

    async def _judge_all(self, items: Sequence[ItemT], settings: SettingsT, context: JudgingContext) -> list[OutcomeT]:
        keys = [judgment_key(context, self.format_name, settings, item) for item in items]
        cache = self._cache if self._cache.applies_to(context) else None
        return await run_deduplicated(
            [item.id for item in items], keys, lambda index: self._within_deadline(items[index], settings, context),
            cache, context.dedup, self.route, self._metrics,
        )

    def failed(self, item_id: str, failure: ItemFailure) -> OutcomeT:
        return self.outcome_type(id=item_id, status=failure.status, error=failure.message)

    async def _within_deadline(self, item: ItemT, settings: SettingsT, context: JudgingContext) -> OutcomeT:
        def timed_out(message: str) -> OutcomeT:
            return self.failed(item.id, ItemFailure("timeout", message))

        return await within_deadline(context, self.judge_item(item, settings, context), timed_out)
