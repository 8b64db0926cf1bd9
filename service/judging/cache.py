"""The judgment cache: a bounded LRU of `ok` outcomes by content key (`keys.judgment_key`), across requests, and
when replicas share state (`shared_state`), the same outcomes in Redis, so that one replica's judgment answers
another's repeat.

A lookup asks the local LRU first, then Redis; a Redis hit is kept locally too. A store goes to both (Redis with
the configured TTL). While Redis is away (service/sharing/redis_link.py) the cache is the local LRU alone: a miss
costs a judgment, never an error. A stored value that does not decode (another version's) is a miss.
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict

from service.judging.context import JudgingContext
from service.judging.items import ItemOutcome
from service.metrics import Metrics
from service.sharing.outcome_codec import UndecodableOutcome, decode_outcome, encode_outcome
from service.sharing.redis_link import RedisLink, SharedStateAway


class JudgmentCache:
    def __init__(self, max_entries: int, metrics: Metrics, shared: RedisLink | None = None) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[str, ItemOutcome] = OrderedDict()
        self._metrics = metrics
        self._shared = shared

    async def get(self, key: str, route: str) -> ItemOutcome | None:
        found = self._entries.get(key)
        if found is not None:
            self._entries.move_to_end(key)
        elif self._shared is not None:
            found = await self._shared_get(key)
            if found is not None:
                self._metrics.cache_shared_hits.labels(route).inc()
                self._keep(key, found)
        self._metrics.cache_lookups.labels(route, "hit" if found else "miss").inc()
        return found

    async def put(self, key: str, value: ItemOutcome) -> None:
        if self.max_entries == 0:
            return
        self._keep(key, value)
        if self._shared is not None:
            link, encoded = self._shared, encode_outcome(value)
            with contextlib.suppress(SharedStateAway):  # then kept locally only; the link counts and logs it
                await link.call("cache_put", lambda r: r.set(link.key("judgment", key), encoded,
                                                             ex=link.settings.cache_ttl_s))

    def __len__(self) -> int:
        return len(self._entries)

    def applies_to(self, context: JudgingContext) -> bool:
        """Unseeded samples are random: reuse them only when the caller opts in."""
        wanted = context.cache if context.cache is not None else context.sampling.seed is not None
        return wanted and self.max_entries > 0

    def _keep(self, key: str, value: ItemOutcome) -> None:
        self._entries[key] = value
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    async def _shared_get(self, key: str) -> ItemOutcome | None:
        link = self._shared
        assert link is not None
        try:
            stored = await link.call("cache_get", lambda r: r.get(link.key("judgment", key)))
        except SharedStateAway:
            return None
        if stored is None:
            return None
        try:
            return decode_outcome(stored)
        except UndecodableOutcome:
            return None
