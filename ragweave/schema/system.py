"""Operational and utility types: health, whoami, embeddings, rerank results, pagination."""

from __future__ import annotations

import strawberry

from ragweave.schema.types import Entity


@strawberry.type
class BackendHealth:
    name: str
    ok: bool
    latency_ms: float | None
    error: str | None


@strawberry.type
class Health:
    ok: bool
    backends: list[BackendHealth]


@strawberry.type
class WhoAmI:
    version: str
    tenant: str
    role: str
    chat_model: str
    embedding_model: str
    backends: list[str]
    graph_dialect: str
    extractor: str
    reranker: str
    schema_hash: str


@strawberry.type
class Embeddings:
    vectors: list[list[float]]
    dim: int
    model: str


@strawberry.type
class RerankResult:
    index: int
    score: float
    document: str


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class EntityEdge:
    cursor: str
    node: Entity


@strawberry.type
class EntityConnection:
    edges: list[EntityEdge]
    page_info: PageInfo
