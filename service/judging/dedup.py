"""In-batch deduplication: each distinct item of a batch is judged once, answered from the cache where it
applies; a duplicate gets a copy of the first item's outcome with `duplicate_of` set."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from service.judging.cache import JudgmentCache
from service.judging.items import ItemOutcome
from service.metrics import Metrics

OutcomeT = TypeVar("OutcomeT", bound=ItemOutcome)


async def run_deduplicated(
    ids: Sequence[str],
    keys: Sequence[str],
    judge: Callable[[int], Awaitable[OutcomeT]],
    cache: JudgmentCache | None,
    dedup: bool,
    route: str,
    metrics: Metrics,
) -> list[OutcomeT]:
    """Judge item `i` with `judge(i)` once per distinct key (every item, without `dedup`); answer from `cache`
    where given. Only `ok` outcomes are stored."""
    groups = list(keys) if dedup else [str(index) for index in range(len(keys))]
    first: dict[str, int] = {}
    for index, group in enumerate(groups):
        first.setdefault(group, index)

    async def resolve(index: int) -> OutcomeT:
        if cache is not None:
            hit = await cache.get(keys[index], route)
            if hit is not None:
                return dataclasses.replace(hit, cached=True)  # type: ignore[return-value]  # stored by this judge
        result = await judge(index)
        if cache is not None and result.status == "ok":
            await cache.put(keys[index], dataclasses.replace(result, id=""))
        return result

    distinct = list(first.values())
    results = dict(zip(distinct, await asyncio.gather(*(resolve(i) for i in distinct)), strict=True))
    answers = []
    for index, group in enumerate(groups):
        origin = first[group]
        if origin == index:
            answers.append(dataclasses.replace(results[index], id=ids[index]))
        else:
            metrics.deduplicated.labels(route).inc()
            answers.append(dataclasses.replace(results[origin], id=ids[index], duplicate_of=ids[origin]))
    return answers
