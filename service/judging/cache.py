"""The judgment cache: a bounded LRU of `ok` outcomes by content key (`keys.judgment_key`), across requests."""

from __future__ import annotations

from collections import OrderedDict

from service.judging.context import JudgingContext
from service.judging.items import ItemOutcome
from service.metrics import Metrics


class JudgmentCache:
    def __init__(self, max_entries: int, metrics: Metrics) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[str, ItemOutcome] = OrderedDict()
        self._metrics = metrics

    def get(self, key: str, route: str) -> ItemOutcome | None:
        found = self._entries.get(key)
        self._metrics.cache_lookups.labels(route, "hit" if found else "miss").inc()
        if found is not None:
            self._entries.move_to_end(key)
        return found

    def put(self, key: str, value: ItemOutcome) -> None:
        if self.max_entries == 0:
            return
        self._entries[key] = value
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)

    def applies_to(self, context: JudgingContext) -> bool:
        """Unseeded samples are random: reuse them only when the caller opts in."""
        wanted = context.cache if context.cache is not None else context.sampling.seed is not None
        return wanted and self.max_entries > 0
