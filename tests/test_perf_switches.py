"""The perf-only switch of perf/serve_fakes.py: the `noloaders` app, whose figures show what batching buys."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import ragweave.loaders
from perf.serve_fakes import _unbatched_loaders


async def test_noloaders_dispatches_every_load_alone_and_uncached(monkeypatch):
    monkeypatch.setattr(ragweave.loaders, "_BatchLoader", ragweave.loaders._BatchLoader)  # restored afterwards
    batches: list[list[str]] = []

    async def echo(keys: list[str]) -> list[str]:
        batches.append(keys)
        return keys

    ds = SimpleNamespace(embedder=SimpleNamespace(embed_many=echo))
    batched = ragweave.loaders.Loaders(ds, "t").embedding  # type: ignore[arg-type]
    assert await asyncio.gather(batched.load("a"), batched.load("b"), batched.load("a")) == ["a", "b", "a"]
    assert batches == [["a", "b"]]
    _unbatched_loaders()
    batches.clear()
    unbatched = ragweave.loaders.Loaders(ds, "t").embedding  # type: ignore[arg-type]
    assert await asyncio.gather(unbatched.load("a"), unbatched.load("b"), unbatched.load("a")) == ["a", "b", "a"]
    assert batches == [["a"], ["b"], ["a"]]
