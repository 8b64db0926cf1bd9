"""`BatchJudge`: what both judges do around a single item: dedup and cache, the deadline, per-item failures.

A subclass says how to key an item (`item_key`), which output type it answers with (`item_out`) and how to
judge one item (`judge_item`).
"""

from __future__ import annotations

from typing import Any, ClassVar, Generic, TypeVar

from service.api.protocol import ItemError, _ItemOut, _JudgingRequest
from service.judging.cache import (
    JudgmentCache,
    cache_for,
    content_key,
    item_ids,
    request_key_parts,
    run_deduplicated,
)
from service.judging.runner import ItemFailure, JudgingContext, JudgmentRunner, within_deadline
from service.metrics import Metrics

ItemOutT = TypeVar("ItemOutT", bound=_ItemOut)


class BatchJudge(Generic[ItemOutT]):
    route: ClassVar[str]
    format_name: ClassVar[str]
    item_out: type[ItemOutT]

    def __init__(self, runner: JudgmentRunner, cache: JudgmentCache, metrics: Metrics) -> None:
        self._runner = runner
        self._cache = cache
        self._metrics = metrics

    async def judge_batch(self, request: Any, context: JudgingContext) -> list[ItemOutT]:
        ids = item_ids(request.items)
        shared = request_key_parts(request, context, self.format_name, self.request_shape(request))
        keys = [content_key({**shared, **self.item_key(item)}) for item in request.items]
        return await run_deduplicated(
            ids, keys, lambda index: self._within_deadline(ids[index], request.items[index], request, context),
            cache_for(request, context, self._cache), request.dedup, self.route, self._metrics,
        )

    def request_shape(self, request: Any) -> dict[str, Any]:
        """The request's own settings that change a judgment (votes, aggregation, swap)."""
        raise NotImplementedError

    def item_key(self, item: Any) -> dict[str, Any]:
        raise NotImplementedError

    async def judge_item(self, item_id: str, item: Any, request: Any, context: JudgingContext) -> ItemOutT:
        raise NotImplementedError

    def failed(self, item_id: str, failure: ItemFailure) -> ItemOutT:
        return self.item_out(id=item_id, status=failure.status,
                             error=ItemError(type=failure.status, message=failure.message))

    async def _within_deadline(
        self, item_id: str, item: Any, request: _JudgingRequest, context: JudgingContext
    ) -> ItemOutT:
        def timed_out(message: str) -> ItemOutT:
            return self.failed(item_id, ItemFailure("timeout", message))

        return await within_deadline(context, self.judge_item(item_id, item, request, context), timed_out)
