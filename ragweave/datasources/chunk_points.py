"""What both vector adapters share: deterministic point ids, the payload layout and filter construction.

A chunk's public id is ``"<document id>#<index>"``; its point id is a UUIDv5 of (tenant, document id, index),
so re-ingesting replaces points instead of duplicating them, and an id is never resolvable across tenants.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from types import SimpleNamespace
from typing import Any

from ragweave import records
from ragweave.datasources.vectors import ChunkFilter, ChunkPoint

_NAMESPACE = uuid.UUID("8f5d7a52-3c1e-4b8e-9a57-2f0f6c1d9e41")
PAYLOAD_INDEXES = {"tenant": "keyword", "document_id": "keyword", "index": "integer"}


def chunk_id(document_id: str, index: int) -> str:
    return f"{document_id}#{index}"


def parse_chunk_id(value: str) -> tuple[str, int] | None:
    document_id, sep, index = value.rpartition("#")
    if not sep or not document_id or not index.isdigit() or len(index) > 9:
        return None
    return document_id, int(index)


def point_id(tenant: str, document_id: str, index: int) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"{tenant}\x1f{document_id}\x1f{index}"))


def point_id_for_chunk(tenant: str, value: str) -> str | None:
    parsed = parse_chunk_id(value)
    return point_id(tenant, *parsed) if parsed else None


def payload_of(tenant: str, point: ChunkPoint) -> dict[str, Any]:
    chunk = point.chunk
    return {
        "tenant": tenant,
        "document_id": chunk.document_id,
        "index": chunk.index,
        "text": chunk.text,
        "start": chunk.start,
        "end": chunk.end,
        "metadata": chunk.metadata or {},
        "document_title": chunk.document_title,
        "document_metadata": chunk.document_metadata or {},
        "content_hash": point.content_hash,
    }


def chunk_from_payload(payload: dict[str, Any]) -> records.Chunk:
    return records.Chunk(
        id=chunk_id(payload["document_id"], payload["index"]),
        document_id=payload["document_id"],
        index=payload["index"],
        text=payload["text"],
        start=payload.get("start", 0),
        end=payload.get("end", 0),
        metadata=payload.get("metadata") or None,
        document_title=payload.get("document_title"),
        document_metadata=payload.get("document_metadata") or None,
    )


def document_from_payload(payload: dict[str, Any]) -> records.Document:
    return records.Document(
        id=payload["document_id"],
        title=payload.get("document_title"),
        metadata=payload.get("document_metadata") or None,
    )


def build_filter(
    models: SimpleNamespace,
    tenant: str,
    chunk_filter: ChunkFilter | None = None,
    *,
    document_ids: Iterable[str] | None = None,
    index_below: int | None = None,
    index_from: int | None = None,
) -> Any:
    """A tenant-scoped filter in the vocabulary of `models` (qdrant_client.models or qdrant_edge).

    `models` names: Filter, FieldCondition, MatchValue, MatchAny, Range.
    """
    must = [models.FieldCondition(key="tenant", match=models.MatchValue(value=tenant))]
    doc_ids = list(document_ids) if document_ids is not None else None
    if chunk_filter and chunk_filter.document_ids is not None:
        wanted = set(chunk_filter.document_ids)
        doc_ids = [d for d in doc_ids if d in wanted] if doc_ids is not None else list(chunk_filter.document_ids)
    if doc_ids is not None:
        must.append(models.FieldCondition(key="document_id", match=models.MatchAny(any=doc_ids)))
    for key, value in (chunk_filter.metadata or ()) if chunk_filter else ():
        must.append(models.FieldCondition(key=f"metadata.{key}", match=models.MatchValue(value=value)))
    if index_below is not None:
        must.append(models.FieldCondition(key="index", range=models.Range(lt=index_below)))
    if index_from is not None:
        must.append(models.FieldCondition(key="index", range=models.Range(gte=index_from)))
    return models.Filter(must=must)


def first_chunks_by_document(payloads: Iterable[dict[str, Any]], document_ids: list[str], first: int):
    grouped: dict[str, list[records.Chunk]] = {d: [] for d in document_ids}
    for payload in payloads:
        bucket = grouped.get(payload["document_id"])
        if bucket is not None:
            bucket.append(chunk_from_payload(payload))
    return [sorted(grouped[d], key=lambda c: c.index)[:first] for d in document_ids]


def aligned(items: dict[str, Any], keys: Iterable[str]) -> list[Any]:
    return [items.get(k) for k in keys]


def chunks_in_order(found: Iterable[Any], point_ids: list[str | None], tenant: str) -> list[records.Chunk | None]:
    """Align retrieved points (objects with .id and .payload) with the requested point ids."""
    by_point = {str(r.id): chunk_from_payload(r.payload) for r in found if r.payload["tenant"] == tenant}
    return [by_point.get(pid) if pid else None for pid in point_ids]


Payloads = Callable[[str, Any, int], Awaitable[list[dict[str, Any]] | None]]
"""An adapter's scroll: (collection, filter, limit) -> payloads, or None when the collection does not exist."""


async def documents_by_ids(
    payloads: Payloads, models: SimpleNamespace, tenant: str, collection: str, ids: Sequence[str]
) -> list[records.Document | None]:
    """Documents live in their chunks' payloads: one scroll over the first chunk of each."""
    found = (
        await payloads(collection, build_filter(models, tenant, document_ids=ids, index_below=1), len(ids))
        if ids
        else None
    )
    return aligned({p["document_id"]: document_from_payload(p) for p in found or ()}, ids)


async def chunks_of_documents(
    payloads: Payloads, models: SimpleNamespace, tenant: str, collection: str, document_ids: Sequence[str], first: int
) -> list[list[records.Chunk]]:
    flt = build_filter(models, tenant, document_ids=document_ids, index_below=first)
    found = await payloads(collection, flt, len(document_ids) * first) if document_ids else None
    return first_chunks_by_document(found or (), list(document_ids), first)
