"""Production vector store: `AsyncQdrantClient` against a Qdrant server (tested through its local mode)."""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from types import SimpleNamespace
from typing import Any, TypeVar

import httpx
from qdrant_client import AsyncQdrantClient, models
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

from ragweave import records
from ragweave.datasources import chunk_points as cp
from ragweave.datasources.calls import counted
from ragweave.datasources.vectors import ChunkPoint, VectorQuery, check_collection
from ragweave.errors import BackendTimeout, BackendUnavailable

T = TypeVar("T")
MODELS = SimpleNamespace(
    Filter=models.Filter, FieldCondition=models.FieldCondition, MatchValue=models.MatchValue,
    MatchAny=models.MatchAny, Range=models.Range,
)
_INDEX_TYPES = {"keyword": models.PayloadSchemaType.KEYWORD, "integer": models.PayloadSchemaType.INTEGER}


class QdrantVectorStore:
    name = "qdrant"

    def __init__(self, client: AsyncQdrantClient, dim: int) -> None:
        self.client = client
        self.dim = dim
        self._known: set[str] = set()

    async def _call(self, awaitable: Awaitable[T]) -> T:
        try:
            return await awaitable
        except (httpx.TimeoutException, TimeoutError) as exc:
            raise BackendTimeout("vectors", "Qdrant did not answer in time") from exc
        except ResponseHandlingException as exc:  # qdrant-client wraps the transport's errors, timeouts included
            if isinstance(exc.source, httpx.TimeoutException | TimeoutError):
                raise BackendTimeout("vectors", "Qdrant did not answer in time") from exc
            raise BackendUnavailable("vectors", f"Qdrant request failed: {type(exc.source).__name__}") from exc
        except (UnexpectedResponse, httpx.HTTPError, ConnectionError) as exc:
            raise BackendUnavailable("vectors", f"Qdrant request failed: {type(exc).__name__}") from exc

    async def _exists(self, collection: str) -> bool:
        check_collection(collection)
        if collection in self._known:
            return True
        if await self._call(self.client.collection_exists(collection)):
            self._known.add(collection)
            return True
        return False

    async def _ensure(self, collection: str) -> None:
        if await self._exists(collection):
            return
        await self._call(self.client.create_collection(
            collection, vectors_config=models.VectorParams(size=self.dim, distance=models.Distance.COSINE)
        ))
        for field_name, kind in cp.PAYLOAD_INDEXES.items():
            await self._call(self.client.create_payload_index(collection, field_name, _INDEX_TYPES[kind]))
        self._known.add(collection)

    @counted("vectors.query_many")
    async def query_many(
        self, tenant: str, collection: str, queries: Sequence[VectorQuery]
    ) -> list[list[records.ScoredChunk]]:
        if not queries or not await self._exists(collection):
            return [[] for _ in queries]
        requests = [
            models.QueryRequest(
                query=list(q.vector), limit=q.limit, with_payload=True,
                filter=cp.build_filter(MODELS, tenant, q.filter),
            )
            for q in queries
        ]
        responses = await self._call(self.client.query_batch_points(collection, requests=requests))
        return [
            [records.ScoredChunk(cp.chunk_from_payload(p.payload), float(p.score)) for p in response.points]
            for response in responses
        ]

    @counted("vectors.chunks_by_ids")
    async def chunks_by_ids(self, tenant: str, collection: str, ids: Sequence[str]) -> list[records.Chunk | None]:
        point_ids = [cp.point_id_for_chunk(tenant, cid) for cid in ids]
        wanted = [pid for pid in point_ids if pid]
        if not wanted or not await self._exists(collection):
            return [None for _ in ids]
        found = await self._call(self.client.retrieve(collection, ids=wanted, with_payload=True))
        return cp.chunks_in_order(found, point_ids, tenant)

    async def _scroll(self, collection: str, flt: Any, limit: int) -> list[dict[str, Any]]:
        payloads: list[dict[str, Any]] = []
        offset = None
        while len(payloads) < limit:
            page, offset = await self._call(self.client.scroll(
                collection, scroll_filter=flt, limit=min(1000, limit - len(payloads)), offset=offset,
                with_payload=True,
            ))
            payloads.extend(r.payload for r in page)
            if offset is None:
                break
        return payloads

    async def _payloads(self, collection: str, flt: Any, limit: int) -> list[dict[str, Any]] | None:
        return await self._scroll(collection, flt, limit) if await self._exists(collection) else None

    @counted("vectors.documents_by_ids")
    async def documents_by_ids(
        self, tenant: str, collection: str, ids: Sequence[str]
    ) -> list[records.Document | None]:
        return await cp.documents_by_ids(self._payloads, MODELS, tenant, collection, ids)

    @counted("vectors.chunks_of_documents")
    async def chunks_of_documents(
        self, tenant: str, collection: str, document_ids: Sequence[str], first: int
    ) -> list[list[records.Chunk]]:
        return await cp.chunks_of_documents(self._payloads, MODELS, tenant, collection, document_ids, first)

    @counted("vectors.upsert")
    async def upsert(self, tenant: str, collection: str, points: Sequence[ChunkPoint]) -> None:
        if not points:
            return
        await self._ensure(collection)
        structs = [
            models.PointStruct(
                id=cp.point_id(tenant, p.chunk.document_id, p.chunk.index),
                vector=list(map(float, p.vector)), payload=cp.payload_of(tenant, p),
            )
            for p in points
        ]
        await self._call(self.client.upsert(collection, points=structs, wait=True))

    @counted("vectors.delete_document")
    async def delete_document(self, tenant: str, collection: str, document_id: str, from_index: int = 0) -> int:
        if not await self._exists(collection):
            return 0
        flt = cp.build_filter(MODELS, tenant, document_ids=[document_id], index_from=from_index)
        doomed = (await self._call(self.client.count(collection, count_filter=flt, exact=True))).count
        if doomed:
            await self._call(self.client.delete(collection, points_selector=models.FilterSelector(filter=flt)))
        return doomed

    @counted("vectors.count")
    async def count(self, tenant: str, collection: str) -> int:
        if not await self._exists(collection):
            return 0
        flt = cp.build_filter(MODELS, tenant)
        return (await self._call(self.client.count(collection, count_filter=flt, exact=True))).count

    async def build_index(self, collection: str, min_unindexed: int) -> None:
        """A Qdrant server indexes a segment once it passes the collection's indexing threshold."""
        check_collection(collection)

    async def ping(self) -> None:
        await self._call(self.client.get_collections())

    async def close(self) -> None:
        await self.client.close()
