"""Per-caller token buckets weighted by operation cost: in-process, or in Redis so that replicas share them.

Both answer `await take(caller, cost)`: 0.0 when the operation may run, else the seconds after which it could.
The Redis limiter keeps each bucket in one hash updated by a Lua script (atomic across replicas, clocked by
the Redis server's TIME so replicas' clocks do not matter). When Redis cannot be reached it falls back to an
in-process bucket per replica for a few seconds at a time: limits get looser, requests keep flowing.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Protocol

import redis.asyncio as aioredis
from redis import exceptions as redis_errors

log = logging.getLogger("ragweave")


class Limiter(Protocol):
    async def take(self, caller: str, cost: float) -> float: ...

    async def aclose(self) -> None: ...


@dataclass(slots=True)
class _Bucket:
    tokens: float
    stamp: float


@dataclass(slots=True)
class RateLimiter:
    per_second: float
    burst: float
    max_callers: int = 100_000
    _buckets: dict[str, _Bucket] = field(default_factory=dict)

    async def take(self, caller: str, cost: float) -> float:
        return self.take_now(caller, cost)

    def take_now(self, caller: str, cost: float) -> float:
        now = time.monotonic()
        bucket = self._buckets.get(caller)
        if bucket is None:
            if len(self._buckets) >= self.max_callers:
                self._buckets.clear()
            bucket = self._buckets[caller] = _Bucket(self.burst, now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.stamp) * self.per_second)
        bucket.stamp = now
        cost = min(cost, self.burst)  # a costlier operation (COST_LIMIT bounds it) needs, and drains, a full bucket
        if cost <= bucket.tokens:
            bucket.tokens -= cost
            return 0.0
        return (cost - bucket.tokens) / self.per_second

    async def aclose(self) -> None:
        pass


# KEYS[1] = bucket; ARGV = per_second, burst, cost. Returns the wait in seconds as a string (Lua numbers
# returned to Redis are truncated to integers).
TAKE = """
local rate, burst, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'stamp')
local tokens = tonumber(state[1]) or burst
local stamp = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - stamp) * rate)
cost = math.min(cost, burst)
local wait = 0
if cost <= tokens then
  tokens = tokens - cost
else
  wait = (cost - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.6f', tokens), 'stamp', string.format('%.6f', now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return string.format('%.6f', wait)
"""


class RedisRateLimiter:
    def __init__(
        self, url: str, per_second: float, burst: float, *, prefix: str = "ragweave:rate:",
        socket_timeout_s: float = 0.25, fallback_for_s: float = 5.0,
    ) -> None:
        self.per_second, self.burst, self.prefix = per_second, burst, prefix
        # retry_on_error: a pooled socket left from before a Redis restart would otherwise cost 5 s of fallback
        self.client = aioredis.Redis.from_url(
            url, socket_timeout=socket_timeout_s, socket_connect_timeout=socket_timeout_s,
            retry_on_error=[redis_errors.ConnectionError],
        )
        self.script = self.client.register_script(TAKE)
        self.local = RateLimiter(per_second, burst)
        self.fallback_for_s = fallback_for_s
        self._redis_down_until = 0.0

    async def take(self, caller: str, cost: float) -> float:
        if time.monotonic() < self._redis_down_until:
            return self.local.take_now(caller, cost)
        try:
            wait = await self.script(keys=[self.prefix + caller], args=[self.per_second, self.burst, cost])
        except (redis_errors.ConnectionError, redis_errors.TimeoutError, OSError) as exc:
            log.warning("rate limiter: Redis unreachable (%s); per-replica limits for %.0f s",
                        type(exc).__name__, self.fallback_for_s)
            self._redis_down_until = time.monotonic() + self.fallback_for_s
            return self.local.take_now(caller, cost)
        return float(wait)

    @property
    def shared(self) -> bool:
        """False while the limiter has fallen back to per-replica buckets."""
        return time.monotonic() >= self._redis_down_until

    async def aclose(self) -> None:
        await self.client.aclose()


def limiter_for(redis_url: str | None, per_second: float, burst: float) -> Limiter | None:
    if not per_second:
        return None
    return RedisRateLimiter(redis_url, per_second, burst) if redis_url else RateLimiter(per_second, burst)
