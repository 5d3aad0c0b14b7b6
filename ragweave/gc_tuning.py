"""Garbage-collector settings for a serving process.

A GraphQL answer allocates many short-lived objects; with the default thresholds (700, 10, 10) the collector
runs every few hundred allocations and walks the long-lived heap (schema, models, caches) again and again.
After start-up, everything alive is frozen out of the collector's view and the young generation is allowed
to grow larger; cycles are still collected, only less often.
"""

from __future__ import annotations

import gc

THRESHOLDS = (50_000, 20, 20)


def tune_for_serving() -> None:
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
