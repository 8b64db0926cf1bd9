"""Per-key judging quotas: a token bucket of judgments (items × votes × orders) per second.

A key with a `rate` holds a bucket of `burst` judgments that refills at `rate` per second. A request takes its
whole cost at once or is refused with 429, and its `Retry-After` is when the bucket will hold enough again, not a
constant. A request larger than the bucket is let through when the bucket is full, and leaves it in debt, so a
big batch is slowed, never refused forever. Keys without a `rate` (and `anonymous`, when keys are off) are not
rate-limited; every key still gets only its fair share of a busy model (service/judging/admission.py).

With shared state (`shared_state`), a key's bucket lives in Redis and every replica takes from the same one, so
a key's rate holds across replicas instead of multiplying by their number. The bucket's arithmetic is the same,
run atomically on Redis by a Lua script on Redis's own clock (replicas' clocks never meet). While Redis is away
each replica falls back to its local bucket for that key (service/sharing/redis_link.py): for that time a key
may get up to replicas × its rate, never an error.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Sequence

from service.errors import Overloaded
from service.metrics import Metrics
from service.settings import ApiKeySettings
from service.sharing.redis_link import RedisLink, SharedStateAway

# KEYS[1]: the bucket (a hash of tokens and updated). ARGV: rate, size, cost (negative: a refund). Returns the
# seconds until `cost` could be taken, or -1 when it was taken; the same rule as `TokenBucket.take`.
_SHARED_BUCKET = """
local rate, size, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) + tonumber(now_parts[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'updated')
local tokens = tonumber(state[1]) or size
local updated = tonumber(state[2]) or now
tokens = math.min(size, tokens + math.max(0, now - updated) * rate)
local wait = -1
if cost < 0 then
  tokens = math.min(size, tokens - cost)
elseif cost <= tokens or (cost > size and tokens >= size) then
  tokens = tokens - cost
else
  wait = (math.min(cost, size) - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'updated', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(size / rate) + 60)
return tostring(wait)
"""


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
                 clock: Callable[[], float] = time.monotonic, shared: RedisLink | None = None) -> None:
        self._buckets = {key.name: TokenBucket(key.rate, key.bucket_size or key.rate, clock)
                         for key in keys if key.rate is not None}
        self._metrics = metrics
        self._shared = shared

    async def charge(self, key: str, judgments: int) -> None:
        bucket = self._buckets.get(key)
        if bucket is None:
            return
        wait_s = await self._on_bucket("rate_charge", key, bucket, judgments, lambda: bucket.take(judgments))
        if wait_s is not None:
            self._metrics.rate_limited.labels(key).inc()
            raise Overloaded(
                f"key {key!r} is over its rate of {bucket.rate:g} judgments per second (this request is "
                f"{judgments}: items × votes × orders); retry after the Retry-After seconds, or ask for a "
                "higher `rate`", param="Authorization", retry_after=max(1.0, math.ceil(wait_s)),
            )

    async def refund(self, key: str, judgments: int) -> None:
        """Give back what a request that was then refused (admission, validation) did not use."""
        bucket = self._buckets.get(key)
        if bucket is not None:
            await self._on_bucket("rate_refund", key, bucket, -judgments,
                                  lambda: bucket.give_back(judgments))

    async def _on_bucket(self, operation: str, key: str, bucket: TokenBucket, cost: float,
                         local: Callable[[], float | None]) -> float | None:
        """`cost` taken from the key's bucket (negative: given back): the shared one in Redis, or while Redis is
        away (or none is configured) this replica's own, by `local`. The seconds to wait, or None when taken."""
        if self._shared is not None:
            link = self._shared
            with contextlib.suppress(SharedStateAway):
                wait = float(await link.script(operation, _SHARED_BUCKET, [link.key("rate", key)],
                                               [bucket.rate, bucket.size, cost]))
                return None if wait < 0 else wait
        return local()
