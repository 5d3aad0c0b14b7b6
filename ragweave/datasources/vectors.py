"""The vector store seen by resolvers: batch-shaped, tenant-scoped, vendor-free.

Two adapters implement it: `vectors_edge.EdgeVectorStore` (embedded qdrant-edge shards, the default) and
`vectors_qdrant.QdrantVectorStore` (qdrant-client against a Qdrant server). `chunk_points` holds what both
share: deterministic ids, payload layout and filter construction.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ragweave import records
from ragweave.errors import BadUserInput

COLLECTION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")


def check_collection(name: str) -> str:
    if not COLLECTION_NAME.match(name):
        raise BadUserInput(
            "`collection` must be 1-63 letters, digits, '_' or '-', starting with a letter or digit",
            argument="collection",
        )
    return name


@dataclass(frozen=True, slots=True)
class ChunkFilter:
    document_ids: tuple[str, ...] | None = None
    metadata: tuple[tuple[str, Any], ...] | None = None


@dataclass(frozen=True, slots=True)
class VectorQuery:
    vector: tuple[float, ...]
    limit: int
    filter: ChunkFilter | None = None


@dataclass(frozen=True, slots=True)
class ChunkPoint:
    """A chunk to store, with its vector and the content hash of the document version it came from."""

    chunk: records.Chunk
    vector: Sequence[float]
    content_hash: str


@dataclass(frozen=True, slots=True)
class IndexBuild:
    """A collection's vectors inside its vector index (HNSW) before and after `VectorStore.build_index`."""

    points: int
    indexed_before: int
    indexed_after: int


class VectorStore(Protocol):
    name: str

    async def query_many(
        self, tenant: str, collection: str, queries: Sequence[VectorQuery]
    ) -> list[list[records.ScoredChunk]]: ...

    async def chunks_by_ids(
        self, tenant: str, collection: str, ids: Sequence[str]
    ) -> list[records.Chunk | None]: ...

    async def documents_by_ids(
        self, tenant: str, collection: str, ids: Sequence[str]
    ) -> list[records.Document | None]: ...

    async def chunks_of_documents(
        self, tenant: str, collection: str, document_ids: Sequence[str], first: int
    ) -> list[list[records.Chunk]]: ...

    async def upsert(self, tenant: str, collection: str, points: Sequence[ChunkPoint]) -> None: ...

    async def delete_document(self, tenant: str, collection: str, document_id: str, from_index: int = 0) -> int: ...

    async def count(self, tenant: str, collection: str) -> int: ...

    async def build_index(self, collection: str, min_unindexed: int) -> IndexBuild | None:
        """Index the collection's vectors when at least `min_unindexed` are outside its index; None where the
        backend indexes by itself."""

    async def ping(self) -> None: ...

    async def close(self) -> None: ...
