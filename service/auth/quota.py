"""Per-key judging quotas: a token bucket of judgments (items × votes × orders) per second.

A key with a `rate` holds a bucket of `burst` judgments that refills at `rate` per second. A request takes its
whole cost at once or is refused with 429, and its `Retry-After` is when the bucket will hold enough again, not a
constant. A request larger than the bucket is let through when the bucket is full, and leaves it in debt, so a
big batch is slowed, never refused forever. Keys without a `rate` (and `anonymous`, when keys are off) are not
rate-limited; every key still gets only its fair share of a busy model (service/judging/admission.py).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence

from service.errors import Overloaded
from service.metrics import Metrics
from service.settings import ApiKeySettings


class TokenBucket:
    def __init__(self, rate: float, size: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.size = size
        self._clock = clock
        self._tokens = size
        self._updated = clock()

    @property
    def tokens(self) -> float:
        now = self._clock()
        self._tokens = min(self.size, self._tokens + (now - self._updated) * self.rate)
        self._updated = now
        return self._tokens

    def take(self, cost: float) -> float | None:
        """Take `cost` and return None, or take nothing and return the seconds until it could be taken."""
        available = self.tokens
        if cost <= available or (cost > self.size and available >= self.size):
            self._tokens = available - cost
            return None
        needed = min(cost, self.size) - available
        return needed / self.rate

    def give_back(self, cost: float) -> None:
        self._tokens = min(self.size, self.tokens + cost)


class Quotas:
    def __init__(self, keys: Sequence[ApiKeySettings], metrics: Metrics,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._buckets = {key.name: TokenBucket(key.rate, key.bucket_size or key.rate, clock)
                         for key in keys if key.rate is not None}
        self._metrics = metrics

    def charge(self, key: str, judgments: int) -> None:
        bucket = self._buckets.get(key)
        if bucket is not None:
            wait_s = bucket.take(judgments)
            if wait_s is not None:
                self._metrics.rate_limited.labels(key).inc()
                raise Overloaded(
                    f"key {key!r} is over its rate of {bucket.rate:g} judgments per second (this request is "
                    f"{judgments}: items × votes × orders); retry after the Retry-After seconds, or ask for a "
                    "higher `rate`", param="Authorization", retry_after=max(1.0, math.ceil(wait_s)),
                )

    def refund(self, key: str, judgments: int) -> None:
        """Give back what a request that was then refused (admission, validation) did not use."""
        bucket = self._buckets.get(key)
        if bucket is not None:
            bucket.give_back(judgments)
