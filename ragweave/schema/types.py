"""The graph's node types: Chunk, Document, Entity and Relation. Nested fields resolve through loaders.

Ids are the records' strings as they are: `strawberry.ID` is a typing `NewType` of `str`, whose call returns its
argument (through a Python-level call, several per hit)."""

from __future__ import annotations

from typing import TypeVar

import strawberry
from strawberry.scalars import JSON

from ragweave import records
from ragweave.context import Info
from ragweave.errors import AppError, check_range

MAX_FIRST = 200
T = TypeVar("T")


def built(cls: type[T], attributes: dict[str, object]) -> T:
    """An instance of a Strawberry type holding `attributes`, one for each of its fields: what its dataclass
    `__init__` does (these types define no `__post_init__`), without a keyword call per object, about a quarter of
    the cost of building one. Answers build them by the dozen per request (the hits' chunks, their entities)."""
    instance = object.__new__(cls)
    instance.__dict__ = attributes
    return instance


@strawberry.type
class Document:
    id: strawberry.ID
    title: str | None
    metadata: JSON | None
    collection: strawberry.Private[str]

    plain_record = records.Document  # see ragweave.schema.direct_root: carries every field above that is not Private

    @classmethod
    def from_record(cls, document: records.Document, collection: str) -> Document:
        return built(cls, {"id": document.id, "title": document.title, "metadata": document.metadata,
                           "collection": collection})

    @strawberry.field
    async def chunks(self, info: Info, first: int = 50) -> list[Chunk]:
        check_range("first", first, 1, MAX_FIRST)
        found = await info.context.loaders.document_chunks.load((self.collection, self.id, first))
        return [Chunk.from_record(c, self.collection) for c in found]


class ChunkAnswer:
    """A chunk as a direct run's resolver answers it (`ragweave.schema.direct_root`, `carried_answer`): a Chunk's
    attributes, and the values of its resolver fields named in `carries`, which the generated completers read like
    attributes: `document` always, `entities` where given (None otherwise: a completer that reads it steps aside).
    Chunk's resolvers take a ChunkAnswer as they take a Chunk, which is how graphql-core's path completes it when a
    completer steps aside."""

    __slots__ = ("collection", "document", "document_id", "entities", "id", "index", "metadata", "record", "text")
    carries = frozenset({"document", "entities"})

    def __init__(self, record: records.Chunk, collection: str, entities: list[records.Entity] | None) -> None:
        self.id, self.text, self.document_id, self.index = record.id, record.text, record.document_id, record.index
        self.metadata, self.collection, self.record, self.entities = record.metadata, collection, record, entities
        self.document = records.Document(record.document_id, record.document_title, record.document_metadata)


@strawberry.type
class Chunk:
    id: strawberry.ID
    text: str
    document_id: strawberry.ID
    index: int
    metadata: JSON | None
    collection: strawberry.Private[str]
    record: strawberry.Private[records.Chunk]

    plain_record = records.Chunk  # see ragweave.schema.direct_root: carries every field above that is not Private
    carrier = ChunkAnswer  # carries `document` and `entities` too

    @classmethod
    def from_record(cls, chunk: records.Chunk, collection: str) -> Chunk:
        return built(cls, {"id": chunk.id, "text": chunk.text, "document_id": chunk.document_id, "index": chunk.index,
                           "metadata": chunk.metadata, "collection": collection, "record": chunk})

    @strawberry.field
    def document(self) -> Document:
        """Resolved from the chunk's own payload: no backend call."""
        chunk = self.record
        return Document(id=chunk.document_id, title=chunk.document_title,
                        metadata=chunk.document_metadata, collection=self.collection)

    @strawberry.field(description="Entities the knowledge graph links to this chunk.")
    async def entities(self, info: Info) -> list[Entity]:
        found = await info.context.loaders.chunk_entities.load((self.collection, self.id))
        return [Entity.from_record(e, self.collection) for e in found]


@strawberry.type
class Entity:
    id: strawberry.ID
    name: str
    type: str
    properties: JSON | None
    collection: strawberry.Private[str]

    plain_record = records.Entity  # see ragweave.schema.direct_root: carries every field above that is not Private

    @classmethod
    def from_record(cls, entity: records.Entity, collection: str) -> Entity:
        return built(cls, {"id": entity.id, "name": entity.name, "type": entity.type,
                           "properties": entity.properties, "collection": collection})

    @strawberry.field(description="Entities within `hops` relationships, nearest first; excludes this entity.")
    async def neighbors(self, info: Info, hops: int = 1, first: int = 20) -> list[Entity]:
        check_range("hops", hops, 1, 3)
        check_range("first", first, 1, MAX_FIRST)
        reached = await info.context.loaders.neighbors.load((self.id, hops))
        return [Entity.from_record(r.entity, self.collection) for r in reached[:first]]

    @strawberry.field
    async def relations(self, info: Info, first: int = 20) -> list[Relation]:
        check_range("first", first, 1, MAX_FIRST)
        found = await info.context.loaders.relations.load(self.id)
        return [Relation.from_record(r, self.collection) for r in found[:first]]

    @strawberry.field(description="Chunks that mention this entity.")
    async def mentions(self, info: Info, first: int = 10) -> list[Chunk]:
        check_range("first", first, 1, MAX_FIRST)
        mentions = await info.context.loaders.mentions.load((self.collection, self.id))
        chunks = await info.context.loaders.chunk.load_many([(self.collection, m.chunk_id) for m in mentions[:first]])
        return [Chunk.from_record(c, self.collection) for c in chunks if c is not None]


@strawberry.type
class Relation:
    type: str
    properties: JSON | None
    source_id: strawberry.Private[str]
    target_id: strawberry.Private[str]
    collection: strawberry.Private[str]

    @classmethod
    def from_record(cls, relation: records.Relation, collection: str) -> Relation:
        return cls(type=relation.type, properties=relation.properties, source_id=relation.source_id,
                   target_id=relation.target_id, collection=collection)

    async def _entity(self, info: Info, entity_id: str) -> Entity:
        entity = await info.context.loaders.entity.load(entity_id)
        if entity is None:
            raise AppError(f"entity {entity_id} of this relation no longer exists", code="NOT_FOUND")
        return Entity.from_record(entity, self.collection)

    @strawberry.field
    async def source(self, info: Info) -> Entity:
        return await self._entity(info, self.source_id)

    @strawberry.field
    async def target(self, info: Info) -> Entity:
        return await self._entity(info, self.target_id)
