"""The perf-only switch of perf/serve_fakes.py: the `noloaders` app, whose figures show what batching buys."""

from __future__ import annotations

import asyncio

import ragweave.loaders
from perf.serve_fakes import _unbatched_loaders


async def test_noloaders_dispatches_every_load_alone_and_uncached(monkeypatch):
    monkeypatch.setattr(ragweave.loaders, "_BatchLoader", ragweave.loaders._BatchLoader)  # restored afterwards
    batches: list[list[int]] = []

    async def echo(keys: list[int]) -> list[int]:
        batches.append(keys)
        return keys

    batched = ragweave.loaders._observed("x", echo)
    assert await asyncio.gather(batched.load(1), batched.load(2), batched.load(1)) == [1, 2, 1]
    assert batches == [[1, 2]]
    _unbatched_loaders()
    batches.clear()
    unbatched = ragweave.loaders._observed("x", echo)
    assert await asyncio.gather(unbatched.load(1), unbatched.load(2), unbatched.load(1)) == [1, 2, 1]
    assert batches == [[1], [2], [1]]
