"""Plain records that datasources return and resolvers consume (no vendor or Strawberry types)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Chunk:
    id: str
    document_id: str
    index: int
    text: str
    start: int = 0
    end: int = 0
    metadata: dict[str, Any] | None = None
    document_title: str | None = None
    document_metadata: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class ScoredChunk:
    chunk: Chunk
    score: float


@dataclass(frozen=True, slots=True)
class Document:
    id: str
    title: str | None
    metadata: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Entity:
    id: str
    name: str
    type: str
    properties: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Relation:
    source_id: str
    target_id: str
    type: str
    properties: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class ReachedEntity:
    """An entity found by graph expansion, with its distance (0 = a seed)."""

    entity: Entity
    hops: int


@dataclass(frozen=True, slots=True)
class Expansion:
    reached: list[ReachedEntity]
    relations: list[Relation]
    # chunk id -> ids of reached entities that mention it
    chunk_via: dict[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ChunkSpan:
    """A piece of a document as the chunker cut it (character offsets into the document text)."""

    index: int
    start: int
    end: int
    text: str


@dataclass(frozen=True, slots=True)
class GraphNode:
    id: str
    type: str
    name: str
    properties: dict[str, Any] | None = None
    mentions: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class GraphEdge:
    source: str
    target: str
    type: str
    properties: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class ExtractedGraph:
    nodes: list[GraphNode]
    edges: list[GraphEdge]


@dataclass(frozen=True, slots=True)
class BackendHealth:
    name: str
    ok: bool
    latency_ms: float | None
    error: str | None


@dataclass(frozen=True, slots=True)
class RerankScore:
    index: int
    score: float


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: str
    content: str


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


@dataclass(frozen=True, slots=True)
class Completion:
    content: str
    model: str
    provider: str
    finish_reason: str
    usage: Usage | None
