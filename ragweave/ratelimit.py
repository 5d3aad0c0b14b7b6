"""Per-caller token buckets weighted by operation cost (in-process; one process's view)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field


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

    def take(self, caller: str, cost: float) -> float:
        """Charge `cost`; 0.0 when allowed, else the seconds after which it would be."""
        now = time.monotonic()
        bucket = self._buckets.get(caller)
        if bucket is None:
            if len(self._buckets) >= self.max_callers:
                self._buckets.clear()
            bucket = self._buckets[caller] = _Bucket(self.burst, now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.stamp) * self.per_second)
        bucket.stamp = now
        if cost <= bucket.tokens:
            bucket.tokens -= cost
            return 0.0
        return (min(cost, self.burst) - bucket.tokens) / self.per_second
