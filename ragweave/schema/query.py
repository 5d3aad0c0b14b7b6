"""Root Query: thin fields wired to resolvers/."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.scalars import JSON

from ragweave import __version__
from ragweave.context import Info
from ragweave.resolvers import entities, retrieval, search, system
from ragweave.schema.retrieval import ChunkFilter, Retrieval, SearchHit
from ragweave.schema.system import Embeddings, EntityConnection, Health, RerankResult, WhoAmI
from ragweave.schema.types import Chunk, Document, Entity


@strawberry.type
class Query:
    @strawberry.field
    async def health(self, info: Info) -> Health:
        return await system.health(info)

    @strawberry.field
    def version(self) -> str:
        return __version__

    @strawberry.field
    def whoami(self, info: Info) -> WhoAmI:
        return system.whoami(info)

    @strawberry.field(
        description="Semantic search over chunks. One embeddings call per request, however many aliases ask."
    )
    async def search(
        self, info: Info, query: str, top_k: int = 5, filter: ChunkFilter | None = None, collection: str | None = None
    ) -> list[SearchHit]:
        return await search.search(info, query, top_k, filter, collection)

    @strawberry.field(
        description="Hybrid retrieval: vector hits fused with chunks reached through the knowledge graph."
    )
    async def retrieve(
        self,
        info: Info,
        query: str,
        top_k: int = 5,
        max_hops: int = 1,
        filter: ChunkFilter | None = None,
        collection: str | None = None,
    ) -> Retrieval:
        return await retrieval.retrieve(info, query, top_k, max_hops, filter, collection)

    @strawberry.field
    async def chunk(self, info: Info, id: strawberry.ID) -> Chunk | None:
        return await entities.chunk(info, str(id))

    @strawberry.field
    async def document(self, info: Info, id: strawberry.ID) -> Document | None:
        return await entities.document(info, str(id))

    @strawberry.field
    async def entity(self, info: Info, id: strawberry.ID) -> Entity | None:
        return await entities.entity(info, str(id))

    @strawberry.field(description="Browse the graph: by name (case-insensitive substring), by type, or both.")
    async def entities(
        self, info: Info, search: str | None = None, type: str | None = None, first: int = 20, after: str | None = None
    ) -> EntityConnection:
        return await entities.entities(info, search, type, first, after)

    @strawberry.field
    async def embed(self, info: Info, texts: list[str]) -> Embeddings:
        return await system.embed(info, texts)

    @strawberry.field
    async def rerank(self, info: Info, query: str, documents: list[str], top_n: int = 6) -> list[RerankResult]:
        return await system.rerank(info, query, documents, top_n)

    @strawberry.field(description="Read-only Cypher. Writes are refused by the database, not by string matching.")
    async def graph_query(self, info: Info, cypher: str, params: JSON | None = None) -> list[JSON]:
        rows: list[Any] = await system.graph_query(info, cypher, params)
        return rows
