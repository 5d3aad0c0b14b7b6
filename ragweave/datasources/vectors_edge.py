"""Embedded default vector store: qdrant-edge (Qdrant's Rust engine in-process), one shard per collection.

qdrant-edge is synchronous and keeps the GIL for the whole of each call (measured with qdrant-edge-py 0.9: a
thread ticking every 0.5 ms beside `query_many` on 100k unindexed vectors waited up to the search's 13-17 ms).
Calls run in a worker thread, so the loop runs between them, not during one: what keeps a search short is the
vector index, which qdrant-edge builds only when asked (`build_index`: `ragweave ingest` ends with it,
`ragweave index-vectors` runs it), never while the server serves, since the build holds the GIL too (10 s for
100k vectors on 2 cores). `edge_shards.ShardRegistry` keeps the open shards and makes a vanished directory
VECTORS_UNAVAILABLE.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any, TypeVar

import qdrant_edge as qe

from ragweave import records
from ragweave.datasources import chunk_points as cp
from ragweave.datasources.calls import counted
from ragweave.datasources.edge_shards import ShardRegistry
from ragweave.datasources.vectors import COLLECTION_NAME, ChunkPoint, IndexBuild, VectorQuery, check_collection
from ragweave.errors import AppError, BackendUnavailable, BadUserInput

T = TypeVar("T")
MODELS = SimpleNamespace(
    Filter=qe.Filter, FieldCondition=qe.FieldCondition, MatchValue=qe.MatchValue, MatchAny=qe.MatchAny,
    Range=qe.RangeFloat,
)
log = logging.getLogger("ragweave")
_INDEX_TYPES = {"keyword": qe.PayloadSchemaType.Keyword, "integer": qe.PayloadSchemaType.Integer}
_SCROLL_PAGE = 1000


class EdgeVectorStore:
    name = "qdrant-edge"

    def __init__(self, root: Path, dim: int) -> None:
        self.root = root
        self.dim = dim
        self._registry = ShardRegistry(root, self._open)
        self._shards = self._registry.shards
        self._open_lock = asyncio.Lock()

    async def _shard(self, collection: str, *, create: bool) -> qe.EdgeShard | None:
        check_collection(collection)
        shard = self._shards.get(collection)
        if shard is not None and self._registry.intact(collection):  # one stat of a local dir, on the loop
            return shard
        async with self._open_lock:
            return await self._run(self._registry.resolve, collection, create)

    def _open(self, path: Path) -> qe.EdgeShard:
        if path.exists() and any(path.iterdir()):
            return qe.EdgeShard.load(str(path))
        path.mkdir(parents=True, exist_ok=True)
        config = qe.EdgeConfig(vectors=qe.EdgeVectorParams(size=self.dim, distance=qe.Distance.Cosine))
        shard = qe.EdgeShard.create(str(path), config)
        for field_name, kind in cp.PAYLOAD_INDEXES.items():
            shard.update(qe.UpdateOperation.create_field_index(field_name, _INDEX_TYPES[kind]))
        return shard

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        try:
            return await asyncio.to_thread(fn, *args)
        except AppError:
            raise
        except Exception as exc:  # the engine raises plain exceptions, whose text can name paths: log it only
            log.warning("qdrant-edge call failed", exc_info=exc)
            raise BackendUnavailable("vectors", f"the embedded vector store failed ({type(exc).__name__})") from exc

    @counted("vectors.query_many")
    async def query_many(
        self, tenant: str, collection: str, queries: Sequence[VectorQuery]
    ) -> list[list[records.ScoredChunk]]:
        shard = await self._shard(collection, create=False)
        if shard is None or not queries:
            return [[] for _ in queries]
        for query in queries:
            if len(query.vector) != self.dim:
                raise BadUserInput(f"query vector has dimension {len(query.vector)}, collection has {self.dim}")
        requests = [
            qe.QueryRequest(
                limit=q.limit, query=qe.Query.Nearest(list(q.vector)), with_payload=True,
                filter=cp.build_filter(MODELS, tenant, q.filter),
            )
            for q in queries
        ]
        batches = await self._run(shard.query_batch, qe.QueryBatchRequest(queries=requests))
        return [
            [records.ScoredChunk(cp.chunk_from_payload(p.payload), float(p.score)) for p in batch]
            for batch in batches
        ]

    @counted("vectors.chunks_by_ids")
    async def chunks_by_ids(self, tenant: str, collection: str, ids: Sequence[str]) -> list[records.Chunk | None]:
        shard = await self._shard(collection, create=False)
        point_ids = [cp.point_id_for_chunk(tenant, cid) for cid in ids]
        wanted = [pid for pid in point_ids if pid]
        if shard is None or not wanted:
            return [None for _ in ids]
        found = await self._run(lambda: shard.retrieve(wanted, with_payload=True, with_vector=False))
        return cp.chunks_in_order(found, point_ids, tenant)

    async def _scroll(self, shard: qe.EdgeShard, flt: Any, limit: int) -> list[dict[str, Any]]:
        def scroll_all() -> list[dict[str, Any]]:
            payloads: list[dict[str, Any]] = []
            offset = None
            while len(payloads) < limit:
                page, offset = shard.scroll(
                    qe.ScrollRequest(offset=offset, limit=min(_SCROLL_PAGE, limit - len(payloads)),
                                     filter=flt, with_payload=True)
                )
                payloads.extend(r.payload for r in page)
                if offset is None:
                    break
            return payloads

        return await self._run(scroll_all)

    async def _payloads(self, collection: str, flt: Any, limit: int) -> list[dict[str, Any]] | None:
        shard = await self._shard(collection, create=False)
        return None if shard is None else await self._scroll(shard, flt, limit)

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
        shard = await self._shard(collection, create=True)
        assert shard is not None
        edge_points = [
            qe.Point(
                id=cp.point_id(tenant, p.chunk.document_id, p.chunk.index),
                vector=list(map(float, p.vector)), payload=cp.payload_of(tenant, p),
            )
            for p in points
        ]
        if edge_points:
            await self._run(shard.update, qe.UpdateOperation.upsert_points(edge_points))

    @counted("vectors.delete_document")
    async def delete_document(self, tenant: str, collection: str, document_id: str, from_index: int = 0) -> int:
        shard = await self._shard(collection, create=False)
        if shard is None:
            return 0
        flt = cp.build_filter(MODELS, tenant, document_ids=[document_id], index_from=from_index)

        def delete() -> int:
            doomed = shard.count(qe.CountRequest(exact=True, filter=flt))
            if doomed:
                shard.update(qe.UpdateOperation.delete_points_by_filter(flt))
            return doomed

        return await self._run(delete)

    @counted("vectors.count")
    async def count(self, tenant: str, collection: str) -> int:
        shard = await self._shard(collection, create=False)
        if shard is None:
            return 0
        flt = cp.build_filter(MODELS, tenant)
        return await self._run(lambda: shard.count(qe.CountRequest(exact=True, filter=flt)))

    async def build_index(self, collection: str, min_unindexed: int) -> IndexBuild | None:
        """Build the shard's HNSW index (`EdgeShard.optimize`) when `min_unindexed` vectors or more are outside it.
        Qdrant's optimizer indexes only segments past its own indexing threshold (about 6,700 vectors of 384
        dimensions), so fewer vectors stay outside whatever `min_unindexed` says; None for a missing collection."""
        shard = await self._shard(collection, create=False)
        if shard is None:
            return None

        def build() -> IndexBuild:
            before = shard.info()
            if before.points_count - before.indexed_vectors_count >= max(1, min_unindexed):
                shard.optimize()
            after = shard.info()
            return IndexBuild(after.points_count, before.indexed_vectors_count, after.indexed_vectors_count)

        return await self._run(build)

    def collections(self) -> list[str]:
        """The collections stored under the root, open or not."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and COLLECTION_NAME.match(p.name))

    async def ping(self) -> None:
        for collection in self._registry.known():
            await self._shard(collection, create=False)  # raises while an opened collection's directory is gone
        await self._run(self.root.mkdir, 0o755, True, True)
        if not self.root.is_dir():
            raise BackendUnavailable("vectors", "the vector data directory is not available")

    async def close(self) -> None:
        async with self._open_lock:
            for collection in self._registry.known():
                await asyncio.to_thread(self._registry.close, collection)

    async def drop_collection(self, collection: str) -> None:
        async with self._open_lock:
            await asyncio.to_thread(self._registry.close, check_collection(collection))
        await asyncio.to_thread(shutil.rmtree, self.root / collection, True)
