"""The judgment cache and in-batch deduplication.

`run_deduplicated` judges each distinct item of a batch once: duplicates get a copy of the first item's result
with `duplicate_of` set. Where caching applies, a bounded LRU keyed by content answers repeats across requests
(`cached: true`). The key covers everything that shapes a judgment: model and version, format and grammar
switch, rubric-set hash, task, sampling (seed included), votes and the aggregation settings, and the item's
prompt and response(s). Only `ok` results are stored.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict
from typing import Any, TypeVar

from pydantic import BaseModel

from service.api.protocol import _ItemOut, _JudgingRequest
from service.judging.runner import JudgingContext
from service.metrics import Metrics

ItemOutT = TypeVar("ItemOutT", bound=_ItemOut)


def content_key(parts: dict[str, Any]) -> str:
    canonical = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=_jsonable)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    raise TypeError(f"cannot key on {type(value).__name__}")


class JudgmentCache:
    def __init__(self, max_entries: int, metrics: Metrics) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[str, _ItemOut] = OrderedDict()
        self._metrics = metrics

    def get(self, key: str, route: str) -> _ItemOut | None:
        found = self._entries.get(key)
        self._metrics.cache_lookups.labels(route, "hit" if found else "miss").inc()
        if found is not None:
            self._entries.move_to_end(key)
        return found

    def put(self, key: str, value: _ItemOut) -> None:
        if self.max_entries == 0:
            return
        self._entries[key] = value
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


async def run_deduplicated(
    ids: Sequence[str],
    keys: Sequence[str],
    judge: Callable[[int], Awaitable[ItemOutT]],
    cache: JudgmentCache | None,
    dedup: bool,
    route: str,
    metrics: Metrics,
) -> list[ItemOutT]:
    """Judge item `i` with `judge(i)` once per distinct key (every item, without `dedup`); answer from `cache`
    where given."""
    groups = list(keys) if dedup else [str(index) for index in range(len(keys))]
    first: dict[str, int] = {}
    for index, group in enumerate(groups):
        first.setdefault(group, index)

    async def resolve(index: int) -> ItemOutT:
        if cache is not None:
            hit = cache.get(keys[index], route)
            if hit is not None:
                return hit.model_copy(update={"cached": True})  # type: ignore[return-value]
        result = await judge(index)
        if cache is not None and result.status == "ok":
            cache.put(keys[index], result.model_copy(update={"id": ""}))
        return result

    distinct = list(first.values())
    results = dict(zip(distinct, await asyncio.gather(*(resolve(i) for i in distinct)), strict=True))
    answers = []
    for index, group in enumerate(groups):
        origin = first[group]
        if origin == index:
            answers.append(results[index].model_copy(update={"id": ids[index]}))
        else:
            metrics.deduplicated.labels(route).inc()
            answers.append(results[origin].model_copy(update={"id": ids[index], "duplicate_of": ids[origin]}))
    return answers


def request_key_parts(
    request: _JudgingRequest, context: JudgingContext, format_name: str, shape: dict[str, Any]
) -> dict[str, Any]:
    """What every item of a request shares in its cache key; `shape` adds the format's own settings."""
    model = context.model
    return {
        "format": format_name, "model": model.name, "version": model.version, "constrained": model.constrained,
        "rubrics": context.rubrics.content_hash, "task": request.task, "sampling": asdict(context.sampling),
        "adaptive": request.adaptive, "include_judgments": request.include_judgments, **shape,
    }


def cache_for(request: _JudgingRequest, context: JudgingContext, cache: JudgmentCache) -> JudgmentCache | None:
    """Unseeded samples are random: reuse them only when the caller opts in."""
    wanted = request.cache if request.cache is not None else context.sampling.seed is not None
    return cache if wanted and cache.max_entries > 0 else None


def prompt_affinity(context: JudgingContext, task: str, prompt: Any) -> str:
    """Engine-affinity key of everything before the responses: shared by votes, orders and a group's rollouts."""
    return content_key({"model": context.model.name, "rubrics": context.rubrics.content_hash, "task": task,
                        "prompt": prompt})


def item_ids(items: Sequence[Any]) -> list[str]:
    return [item.id if item.id is not None else str(index) for index, item in enumerate(items)]
