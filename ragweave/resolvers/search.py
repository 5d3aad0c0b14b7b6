"""`search`: semantic search over chunks; the shared argument checks of search and retrieve."""

from __future__ import annotations

from typing import Any

from ragweave.context import Context, Info
from ragweave.datasources import vectors
from ragweave.errors import BadUserInput, check_range
from ragweave.loaders import SearchKey
from ragweave.resolvers.carriers import chunk_answers
from ragweave.resolvers.selection import selected_paths
from ragweave.schema.direct_root import carried_answer, plain_answer
from ragweave.schema.retrieval import ChunkFilter, SearchHit
from ragweave.schema.types import Chunk, built

MAX_TOP_K = 100
MAX_QUERY_CHARS = 4000
MAX_FILTER_IDS = 1000


def collection_of(ctx: Context, collection: str | None) -> str:
    return vectors.check_collection(collection or ctx.settings.default_collection)


def check_query(query: str) -> str:
    if not query.strip():
        raise BadUserInput("`query` must not be empty", argument="query")
    if len(query) > MAX_QUERY_CHARS:
        raise BadUserInput(f"`query` is longer than {MAX_QUERY_CHARS} characters", argument="query")
    return query


def to_chunk_filter(value: ChunkFilter | None) -> vectors.ChunkFilter | None:
    if value is None:
        return None
    document_ids = tuple(str(d) for d in value.document_ids) if value.document_ids is not None else None
    if document_ids is not None and len(document_ids) > MAX_FILTER_IDS:
        raise BadUserInput(f"`filter.documentIds` takes at most {MAX_FILTER_IDS} ids", argument="filter")
    return vectors.ChunkFilter(document_ids=document_ids, metadata=_metadata_equalities(value.metadata))


def _metadata_equalities(metadata: Any) -> tuple[tuple[str, Any], ...] | None:
    if metadata is None:
        return None
    if not isinstance(metadata, dict):
        raise BadUserInput("`filter.metadata` must be an object of key: value equalities", argument="filter")
    for key, value in metadata.items():
        if not key or not all(part.isidentifier() for part in key.split(".")):
            raise BadUserInput(f"`filter.metadata` key {key!r} is not a plain field name", argument="filter")
        if not isinstance(value, str | int | bool):
            raise BadUserInput(f"`filter.metadata.{key}` must be a string, integer or boolean", argument="filter")
    return tuple(sorted(metadata.items()))


def search_key(ctx: Context, query: str, top_k: int, flt: ChunkFilter | None, collection: str | None) -> SearchKey:
    check_range("topK", top_k, 1, MAX_TOP_K)
    return SearchKey(collection_of(ctx, collection), check_query(query), top_k, to_chunk_filter(flt))


async def search(
    info: Info, query: str, top_k: int, flt: ChunkFilter | None, collection: str | None
) -> list[SearchHit]:
    key = search_key(info.context, query, top_k, flt, collection)
    hits = await info.context.loaders.search.load(key)
    if plain_answer.get():  # read for plain fields only: the records carry them (SearchHit.plain_record)
        return hits  # type: ignore[return-value]
    if carried_answer.get():  # the chunks' `document` and `entities` read from carriers (Chunk.carrier)
        with_entities = "chunk.entities" in selected_paths(info)
        answers = await chunk_answers(info.context.loaders, [(h.chunk, key.collection) for h in hits], with_entities)
        if answers is not None:
            return [built(SearchHit, {"score": h.score, "chunk": a}) for h, a in zip(hits, answers, strict=True)]
    return [built(SearchHit, {"score": h.score, "chunk": Chunk.from_record(h.chunk, key.collection)}) for h in hits]
