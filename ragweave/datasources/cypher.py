"""Every Cypher statement ragweave ships, in the subset FalkorDB 4.16 and Neo4j 5 both accept.

Rules kept here: values only through parameters; labels and relationship types are literals (a relation's
type is a property, so no user string ever becomes syntax); no map-valued properties (JSON strings instead);
our own ids, never `id()`/`elementId()`. The only text interpolated is a validated hop count (an int).
Dialect differences (index DDL, read-only execution, error mapping) live in the runner adapters.
"""

from __future__ import annotations

from typing import LiteralString

INDEXES: list[tuple[str, str]] = [
    ("Entity", "id"), ("Entity", "tenant"), ("Entity", "name_lc"), ("Entity", "type"),
    ("Chunk", "id"), ("Chunk", "document_id"), ("Document", "id"),
]

ENTITIES_BY_IDS: LiteralString = """
UNWIND $ids AS key
MATCH (e:Entity {tenant: $tenant, id: key})
RETURN key, e.id, e.name, e.type, e.props
"""

ENTITIES_BY_NAMES: LiteralString = """
UNWIND $names AS key
MATCH (e:Entity {tenant: $tenant, name_lc: key})
RETURN key, e.id, e.name, e.type, e.props
"""

ENTITIES_OF_CHUNKS: LiteralString = """
UNWIND $ids AS key
MATCH (e:Entity {tenant: $tenant})-[:MENTIONED_IN]->(c:Chunk {tenant: $tenant, collection: $collection, id: key})
RETURN key, e.id, e.name, e.type, e.props
ORDER BY e.name, e.id
"""


def _paths_from_keys(hops: int) -> LiteralString:
    """Paths of 1..`hops` RELATED edges from each `$ids` key to an entity `e` of the tenant (hops is a literal)."""
    if hops not in (1, 2, 3):
        raise ValueError(f"hops must be 1..3, got {hops}")
    pattern: LiteralString = {1: "*1..1", 2: "*1..2", 3: "*1..3"}[hops]
    return (
        """
UNWIND $ids AS key
MATCH p = (s:Entity {tenant: $tenant, id: key})-[:RELATED"""
        + pattern
        + "]-(e:Entity {tenant: $tenant})"
    )


def reached_within(hops: int) -> LiteralString:
    """Entities within `hops` of any seed, each once with its distance to the nearest seed; seeds excluded."""
    return (
        _paths_from_keys(hops)
        + """
WHERE NOT e.id IN $ids
WITH e, min(length(p)) AS hops
RETURN e.id, e.name, e.type, e.props, hops
ORDER BY hops, e.id
"""
    )


def neighbors_within(hops: int) -> LiteralString:
    return (
        _paths_from_keys(hops)
        + """
WHERE e.id <> key
WITH key, e, min(length(p)) AS hops
RETURN key, e.id, e.name, e.type, e.props, hops
ORDER BY key, hops, e.name, e.id
"""
    )


RELATIONS_OF: LiteralString = """
UNWIND $ids AS key
MATCH (s:Entity {tenant: $tenant, id: key})-[r:RELATED]-(o:Entity {tenant: $tenant})
RETURN key, startNode(r).id, endNode(r).id, r.type, r.props
ORDER BY key, r.type, o.id
"""

MENTIONS_OF: LiteralString = """
UNWIND $ids AS key
MATCH (e:Entity {tenant: $tenant, id: key})-[:MENTIONED_IN]->(c:Chunk {tenant: $tenant, collection: $collection})
RETURN key, c.id, c.document_id, c.index
ORDER BY c.document_id, c.index
"""

MENTIONS_WITH_CHUNK_ENTITIES: LiteralString = """
UNWIND $ids AS key
MATCH (e:Entity {tenant: $tenant, id: key})-[:MENTIONED_IN]->(c:Chunk {tenant: $tenant, collection: $collection})
MATCH (o:Entity {tenant: $tenant})-[:MENTIONED_IN]->(c)
RETURN key, c.id, c.document_id, c.index, o.id, o.name, o.type, o.props
ORDER BY c.document_id, c.index, o.name, o.id
"""

LIST_ENTITIES: LiteralString = """
MATCH (e:Entity {tenant: $tenant})
WHERE ($type IS NULL OR e.type = $type)
  AND ($search IS NULL OR e.name_lc CONTAINS $search)
  AND ($after IS NULL OR e.id > $after)
RETURN e.id, e.name, e.type, e.props
ORDER BY e.id
LIMIT $limit
"""

UPSERT_ENTITIES: LiteralString = """
UNWIND $rows AS r
MERGE (e:Entity {tenant: $tenant, id: r.id})
SET e.name = r.name, e.name_lc = r.name_lc, e.type = r.type, e.props = r.props
"""

UPSERT_RELATIONS: LiteralString = """
UNWIND $rows AS r
MATCH (a:Entity {tenant: $tenant, id: r.source})
MATCH (b:Entity {tenant: $tenant, id: r.target})
MERGE (a)-[x:RELATED {type: r.type}]->(b)
SET x.props = r.props
"""

UPSERT_MENTIONS: LiteralString = """
UNWIND $rows AS r
MATCH (e:Entity {tenant: $tenant, id: r.entity})
MATCH (c:Chunk {tenant: $tenant, collection: r.collection, id: r.chunk})
MERGE (e)-[:MENTIONED_IN]->(c)
"""

EXISTING_CHUNKS: LiteralString = """
UNWIND $ids AS key
MATCH (c:Chunk {tenant: $tenant, collection: $collection, id: key})
RETURN key
"""

UPSERT_DOCUMENT_CHUNKS: LiteralString = """
MERGE (d:Document {tenant: $tenant, collection: $collection, id: $document_id})
SET d.title = $title
WITH d
UNWIND $chunks AS ch
MERGE (c:Chunk {tenant: $tenant, collection: $collection, id: ch.id})
SET c.document_id = $document_id, c.index = ch.index
MERGE (c)-[:PART_OF]->(d)
"""

DOCUMENT_HASHES: LiteralString = """
UNWIND $ids AS key
MATCH (d:Document {tenant: $tenant, collection: $collection, id: key})
RETURN key, d.content_hash
"""

MARK_DOCUMENT_DONE: LiteralString = """
MATCH (d:Document {tenant: $tenant, collection: $collection, id: $document_id})
SET d.content_hash = $content_hash
"""

ENTITIES_MENTIONED_BY_DOCUMENT: LiteralString = """
MATCH (e:Entity {tenant: $tenant})-[:MENTIONED_IN]->(c:Chunk {tenant: $tenant, collection: $collection})
WHERE c.document_id = $document_id AND c.index >= $from_index
RETURN DISTINCT e.id
"""

CLEAR_MENTIONS_OF_DOCUMENT: LiteralString = """
MATCH (:Entity {tenant: $tenant})-[m:MENTIONED_IN]->(c:Chunk {tenant: $tenant, collection: $collection})
WHERE c.document_id = $document_id
DELETE m
"""

DELETE_CHUNKS_OF_DOCUMENT: LiteralString = """
MATCH (c:Chunk {tenant: $tenant, collection: $collection})
WHERE c.document_id = $document_id AND c.index >= $from_index
WITH c, c.id AS id
DETACH DELETE c
RETURN count(id)
"""

DELETE_DOCUMENT_NODE: LiteralString = """
MATCH (d:Document {tenant: $tenant, collection: $collection, id: $document_id})
DETACH DELETE d
"""

DELETE_UNMENTIONED_ENTITIES: LiteralString = """
UNWIND $ids AS key
MATCH (e:Entity {tenant: $tenant, id: key})
OPTIONAL MATCH (e)-[m:MENTIONED_IN]->()
WITH e, count(m) AS mentions
WHERE mentions = 0
WITH e, e.id AS id
DETACH DELETE e
RETURN count(id)
"""

COUNT_NODES: LiteralString = """
MATCH (n)
WHERE n.tenant = $tenant
RETURN count(n)
"""

PING: LiteralString = "RETURN 1"
