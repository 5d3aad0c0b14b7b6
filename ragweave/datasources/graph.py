"""The knowledge graph seen by resolvers: batch-shaped, tenant-scoped, vendor-free.

`GraphStore` runs the statements of `cypher` through a `CypherRunner`, one per engine:
`graph_falkordb.FalkorRunner` (embedded default) and `graph_neo4j.Neo4jRunner` (Neo4j 5).
Every method takes the tenant and a list of keys and returns a list aligned with the keys.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, LiteralString, Protocol

from ragweave import records
from ragweave.datasources import cypher
from ragweave.datasources.calls import counted

Rows = list[list[Any]]


class CypherRunner(Protocol):
    dialect: str

    async def read(self, query: LiteralString, params: dict[str, Any]) -> Rows: ...

    async def write(self, steps: Sequence[tuple[LiteralString, dict[str, Any]]]) -> list[Rows]:
        """Run the statements in order, in one transaction where the engine has them."""
        ...

    async def user_read(self, query: str, params: dict[str, Any], row_cap: int, timeout_s: float) -> list[Any]: ...

    async def ensure_schema(self) -> None: ...

    async def ping(self) -> None: ...

    async def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class EntityPage:
    entities: list[records.Entity]
    has_next: bool


@dataclass(frozen=True, slots=True)
class Mention:
    chunk_id: str
    document_id: str
    index: int


def _entity(row: Sequence[Any]) -> records.Entity:
    entity_id, name, kind, props = row
    return records.Entity(id=entity_id, name=name, type=kind, properties=json.loads(props) if props else None)


def _props(value: dict[str, Any] | None) -> str | None:
    return json.dumps(value, sort_keys=True, separators=(",", ":")) if value else None


def _grouped(rows: Rows, keys: Sequence[Any], convert) -> list[list[Any]]:
    grouped: dict[Any, list[Any]] = defaultdict(list)
    for row in rows:
        grouped[row[0]].append(convert(row[1:]))
    return [grouped.get(k, []) for k in keys]


class GraphStore:
    def __init__(self, runner: CypherRunner) -> None:
        self.runner = runner

    @property
    def dialect(self) -> str:
        return self.runner.dialect

    @counted("graph.entities_by_ids")
    async def entities_by_ids(self, tenant: str, ids: Sequence[str]) -> list[records.Entity | None]:
        rows = await self.runner.read(cypher.ENTITIES_BY_IDS, {"tenant": tenant, "ids": list(ids)})
        found = {row[0]: _entity(row[1:]) for row in rows}
        return [found.get(i) for i in ids]

    @counted("graph.entities_by_names")
    async def entities_by_names(self, tenant: str, names: Sequence[str]) -> list[records.Entity]:
        rows = await self.runner.read(cypher.ENTITIES_BY_NAMES, {"tenant": tenant, "names": list(names)})
        unique = {row[1]: _entity(row[1:]) for row in rows}
        return list(unique.values())

    @counted("graph.entities_of_chunks")
    async def entities_of_chunks(
        self, tenant: str, collection: str, chunk_ids: Sequence[str]
    ) -> list[list[records.Entity]]:
        params = {"tenant": tenant, "collection": collection, "ids": list(chunk_ids)}
        return _grouped(await self.runner.read(cypher.ENTITIES_OF_CHUNKS, params), chunk_ids, _entity)

    @counted("graph.neighbors")
    async def neighbors(
        self, tenant: str, ids: Sequence[str], hops: int
    ) -> list[list[records.ReachedEntity]]:
        """Entities within `hops` relationships of each id, nearest first, excluding the entity itself."""
        rows = await self.runner.read(cypher.neighbors_within(hops), {"tenant": tenant, "ids": list(ids)})
        return _grouped(rows, ids, lambda r: records.ReachedEntity(_entity(r[:4]), int(r[4])))

    @counted("graph.reach")
    async def reach(self, tenant: str, seeds: Sequence[str], hops: int) -> list[records.ReachedEntity]:
        """Entities within `hops` of any seed, once each, at the distance to their nearest seed; seeds excluded.
        One row per entity, where `neighbors` of every seed would return one per (seed, entity) pair."""
        if not seeds:
            return []
        rows = await self.runner.read(cypher.reached_within(hops), {"tenant": tenant, "ids": list(seeds)})
        return [records.ReachedEntity(_entity(r[:4]), int(r[4])) for r in rows]

    @counted("graph.relations")
    async def relations(self, tenant: str, ids: Sequence[str]) -> list[list[records.Relation]]:
        rows = await self.runner.read(cypher.RELATIONS_OF, {"tenant": tenant, "ids": list(ids)})
        return _grouped(rows, ids, lambda r: records.Relation(
            source_id=r[0], target_id=r[1], type=r[2], properties=json.loads(r[3]) if r[3] else None,
        ))

    @counted("graph.mentions")
    async def mentions(self, tenant: str, collection: str, ids: Sequence[str]) -> list[list[Mention]]:
        params = {"tenant": tenant, "collection": collection, "ids": list(ids)}
        rows = await self.runner.read(cypher.MENTIONS_OF, params)
        return _grouped(rows, ids, lambda r: Mention(chunk_id=r[0], document_id=r[1], index=int(r[2])))

    @counted("graph.mentions_with_chunk_entities")
    async def mentions_with_chunk_entities(
        self, tenant: str, collection: str, ids: Sequence[str]
    ) -> tuple[list[list[Mention]], dict[str, list[records.Entity]]]:
        """`mentions`, plus every entity of each mentioned chunk (as `entities_of_chunks` orders them), in one
        query: a caller that will list the entities of chunks it reaches this way needs no second round trip."""
        params = {"tenant": tenant, "collection": collection, "ids": list(ids)}
        mentions: dict[str, dict[str, Mention]] = defaultdict(dict)
        chunk_entities: dict[str, dict[str, records.Entity]] = defaultdict(dict)
        rows = await self.runner.read(cypher.MENTIONS_WITH_CHUNK_ENTITIES, params)
        for key, chunk_id, document_id, index, *entity in rows:
            if chunk_id not in mentions[key]:
                mentions[key][chunk_id] = Mention(chunk_id=chunk_id, document_id=document_id, index=int(index))
            if entity[0] not in chunk_entities[chunk_id]:
                chunk_entities[chunk_id][entity[0]] = _entity(entity)
        found = {chunk_id: list(entities.values()) for chunk_id, entities in chunk_entities.items()}
        return [list(mentions[k].values()) for k in ids], found

    @counted("graph.list_entities")
    async def list_entities(
        self, tenant: str, *, search: str | None, kind: str | None, first: int, after: str | None
    ) -> EntityPage:
        params = {
            "tenant": tenant, "type": kind, "search": search.lower() if search else None,
            "after": after, "limit": first + 1,
        }
        rows = await self.runner.read(cypher.LIST_ENTITIES, params)
        return EntityPage(entities=[_entity(r) for r in rows[:first]], has_next=len(rows) > first)

    @counted("graph.existing_chunks")
    async def existing_chunks(self, tenant: str, collection: str, chunk_ids: Sequence[str]) -> set[str]:
        params = {"tenant": tenant, "collection": collection, "ids": list(chunk_ids)}
        return {row[0] for row in await self.runner.read(cypher.EXISTING_CHUNKS, params)}

    @counted("graph.upsert")
    async def upsert(
        self,
        tenant: str,
        nodes: Sequence[records.GraphNode],
        edges: Sequence[records.GraphEdge],
        mentions: Sequence[tuple[str, str, str]] = (),
    ) -> None:
        """Idempotent MERGE of entities, relations and (entity id, collection, chunk id) mentions."""
        entity_rows = [
            {"id": n.id, "name": n.name, "name_lc": n.name.lower(), "type": n.type, "props": _props(n.properties)}
            for n in nodes
        ]
        relation_rows = [
            {"source": e.source, "target": e.target, "type": e.type, "props": _props(e.properties)} for e in edges
        ]
        mention_rows = [{"entity": e, "collection": c, "chunk": k} for e, c, k in mentions]
        await self.runner.write([
            (cypher.UPSERT_ENTITIES, {"tenant": tenant, "rows": entity_rows}),
            (cypher.UPSERT_RELATIONS, {"tenant": tenant, "rows": relation_rows}),
            (cypher.UPSERT_MENTIONS, {"tenant": tenant, "rows": mention_rows}),
        ])

    @counted("graph.document_hashes")
    async def document_hashes(self, tenant: str, collection: str, ids: Sequence[str]) -> list[str | None]:
        params = {"tenant": tenant, "collection": collection, "ids": list(ids)}
        found = {row[0]: row[1] for row in await self.runner.read(cypher.DOCUMENT_HASHES, params)}
        return [found.get(i) for i in ids]

    @counted("graph.replace_document")
    async def replace_document(
        self, tenant: str, collection: str, document_id: str, title: str | None, chunks: Sequence[records.Chunk]
    ) -> list[str]:
        """Write the document's chunk nodes, drop stale ones and its old mentions; returns entity ids to recheck."""
        scope = {"tenant": tenant, "collection": collection, "document_id": document_id}
        stale = {**scope, "from_index": len(chunks)}
        results = await self.runner.write([
            (cypher.ENTITIES_MENTIONED_BY_DOCUMENT, {**scope, "from_index": 0}),
            (cypher.CLEAR_MENTIONS_OF_DOCUMENT, scope),
            (cypher.DELETE_CHUNKS_OF_DOCUMENT, stale),
            (cypher.UPSERT_DOCUMENT_CHUNKS, {
                **scope, "title": title, "chunks": [{"id": c.id, "index": c.index} for c in chunks],
            }),
        ])
        return [row[0] for row in results[0]]

    @counted("graph.mark_document_done")
    async def mark_document_done(self, tenant: str, collection: str, document_id: str, content_hash: str) -> None:
        params = {"tenant": tenant, "collection": collection, "document_id": document_id, "content_hash": content_hash}
        await self.runner.write([(cypher.MARK_DOCUMENT_DONE, params)])

    @counted("graph.delete_document")
    async def delete_document(self, tenant: str, collection: str, document_id: str) -> tuple[int, int]:
        """Remove the document's nodes and entities no longer mentioned anywhere: (chunks, entities) removed."""
        scope = {"tenant": tenant, "collection": collection, "document_id": document_id}
        mentioned = await self.runner.read(cypher.ENTITIES_MENTIONED_BY_DOCUMENT, {**scope, "from_index": 0})
        results = await self.runner.write([
            (cypher.DELETE_CHUNKS_OF_DOCUMENT, {**scope, "from_index": 0}),
            (cypher.DELETE_DOCUMENT_NODE, scope),
            (cypher.DELETE_UNMENTIONED_ENTITIES, {"tenant": tenant, "ids": [row[0] for row in mentioned]}),
        ])
        return _count(results[0]), _count(results[2])

    @counted("graph.prune_entities")
    async def prune_entities(self, tenant: str, ids: Sequence[str]) -> int:
        results = await self.runner.write([(cypher.DELETE_UNMENTIONED_ENTITIES, {"tenant": tenant, "ids": list(ids)})])
        return _count(results[0])

    @counted("graph.count_nodes")
    async def count_nodes(self, tenant: str) -> int:
        return _count(await self.runner.read(cypher.COUNT_NODES, {"tenant": tenant}))

    @counted("graph.query")
    async def user_query(self, query: str, params: dict[str, Any], row_cap: int, timeout_s: float) -> list[Any]:
        return await self.runner.user_read(query, params, row_cap, timeout_s)

    async def ping(self) -> None:
        await self.runner.ping()

    async def close(self) -> None:
        await self.runner.close()


def _count(rows: Rows) -> int:
    return int(rows[0][0]) if rows and rows[0] else 0
