"""Ingestion and graph-writing inputs and results."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.scalars import JSON


@strawberry.input
class DocumentInput:
    id: strawberry.ID
    text: str
    title: str | None = None
    metadata: JSON | None = None


@strawberry.type
class IngestFailure:
    document_id: strawberry.ID
    chunk_index: int | None
    stage: str
    message: str


@strawberry.type
class IngestResult:
    job_id: strawberry.ID
    documents: int
    chunks: int
    entities: int
    relations: int
    failures: list[IngestFailure]
    skipped: int = strawberry.field(description="Documents left alone because their content hash was already stored.")
    extractor: str


@strawberry.type
class IngestStarted:
    job_id: strawberry.ID
    documents: int


@strawberry.type
class IngestChunkDone:
    document_id: strawberry.ID
    chunk_index: int
    entities: int


@strawberry.type
class IngestFinished:
    result: IngestResult


IngestEvent = Annotated[IngestStarted | IngestChunkDone | IngestFinished, strawberry.union("IngestEvent")]


@strawberry.input
class ExtractOptions:
    providers: list[str] | None = None
    min_nodes: int | None = None
    min_edges: int | None = None
    allow_empty: bool = False
    max_attempts: int | None = None


@strawberry.type
class GraphNode:
    id: strawberry.ID
    type: str
    name: str
    properties: JSON | None


@strawberry.type
class GraphEdge:
    source: strawberry.ID
    target: strawberry.ID
    type: str
    properties: JSON | None


@strawberry.type
class GraphExtraction:
    nodes: list[GraphNode]
    edges: list[GraphEdge]
    provider: str
    attempts: int
    schema_hash: str


@strawberry.input
class GraphNodeInput:
    id: strawberry.ID
    type: str
    name: str
    properties: JSON | None = None
    mentions: list[strawberry.ID] | None = strawberry.field(
        default=None,
        description=(
            "Ids of chunks that mention this entity (provenance edges); unknown ids are a BAD_USER_INPUT error."
        ),
    )


@strawberry.input
class GraphEdgeInput:
    source: strawberry.ID
    target: strawberry.ID
    type: str
    properties: JSON | None = None


@strawberry.input
class GraphInput:
    nodes: list[GraphNodeInput]
    edges: list[GraphEdgeInput]


@strawberry.type
class UpsertResult:
    nodes: int
    edges: int


@strawberry.type
class DeleteResult:
    document_id: strawberry.ID
    chunks: int
    entities_removed: int
