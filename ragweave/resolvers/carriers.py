"""Chunks answered as carriers (`ChunkAnswer`) for a direct run whose completer reads their `document` and
`entities` like attributes (`ragweave.schema.direct_root`, `carried_answer`)."""

from __future__ import annotations

from collections.abc import Sequence

from ragweave import records
from ragweave.loaders import Loaders, in_order
from ragweave.schema.types import ChunkAnswer


async def chunk_answers(
    loaders: Loaders, chunks: Sequence[tuple[records.Chunk, str]], with_entities: bool
) -> list[ChunkAnswer] | None:
    """Each (chunk, collection)'s carrier, in order, with its entities when asked (one batch for all, or the loads
    already under way). None where they fail to load: the caller then answers its chunks as it would without a
    direct run, and graphql-core's path calls their `entities` resolvers, which find the failed loads in the
    loader's cache (put back there: the failed batch took them out) and report them as without a direct run, with
    no second call."""
    if not with_entities:
        return [ChunkAnswer(chunk, collection, None) for chunk, collection in chunks]
    loader = loaders.chunk_entities
    keys = [(collection, chunk.id) for chunk, collection in chunks]
    loads = [loader.load(key) for key in keys]
    try:
        found = await in_order(loads)
    except Exception:
        for key, load in zip(keys, loads, strict=True):
            if load.done() and not load.cancelled() and load.exception() is not None:
                loader.prime(key, load.exception())
        return None
    return [ChunkAnswer(chunk, collection, entities)
            for (chunk, collection), entities in zip(chunks, found, strict=True)]
