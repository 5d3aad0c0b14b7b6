"""Search and retrieval results."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import strawberry

from ragweave import records
from ragweave.schema.types import Chunk, Document, Entity, Relation


@strawberry.type
class SearchHit:
    score: float
    chunk: Chunk

    plain_record = records.ScoredChunk  # see ragweave.schema.direct_root: carries `score` and `chunk`


@strawberry.type
class ScoreBreakdown:
    vector: float | None
    graph: float | None
    fused: float
    rerank: float | None


@strawberry.type
class Citation:
    chunk: Chunk
    document: Document
    via: list[Entity] = strawberry.field(description="Entities through which the graph reached this chunk.")


@strawberry.type
class RetrievalHit:
    chunk: Chunk
    score: float
    scores: ScoreBreakdown
    citations: list[Citation]


@strawberry.type
class Subgraph:
    nodes: list[Entity]
    edges: list[Relation]


@strawberry.type
class Retrieval:
    hits: list[RetrievalHit]
    degraded: list[str] = strawberry.field(
        description="Stages that failed or were skipped (e.g. GRAPH_UNAVAILABLE); the rest of the result stands."
    )
    query_time_ms: int
    build_subgraph: strawberry.Private[Callable[[], Awaitable[Subgraph | None]]]

    @strawberry.field(description="Entities and relations the expansion visited; computed only when selected.")
    async def subgraph(self) -> Subgraph | None:
        return await self.build_subgraph()


@strawberry.input
class ChunkFilter:
    document_ids: list[strawberry.ID] | None = None
    metadata: strawberry.scalars.JSON | None = None
