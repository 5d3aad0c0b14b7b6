"""One graph contract, run against FalkorDB and Neo4j 5 (the `graph_store` fixture is parametrised)."""

from __future__ import annotations

import pytest

from ragweave import records
from ragweave.datasources.graph import GraphStore
from ragweave.errors import BadUserInput

COLLECTION = "chunks"


def chunk(doc: str, index: int) -> records.Chunk:
    return records.Chunk(id=f"{doc}#{index}", document_id=doc, index=index, text=f"text {doc} {index}")


def node(entity_id: str, name: str, kind: str = "Person", *mentions: str) -> records.GraphNode:
    return records.GraphNode(id=entity_id, type=kind, name=name, properties={"source": "test"}, mentions=mentions)


async def seed(store: GraphStore, tenant: str) -> None:
    """ada -LEADS-> atlas -BUILDS-> beacon -USES-> lantern; grace -MEMBER_OF-> atlas."""
    await store.replace_document(tenant, COLLECTION, "doc-a", "Doc A", [chunk("doc-a", 0), chunk("doc-a", 1)])
    await store.replace_document(tenant, COLLECTION, "doc-b", "Doc B", [chunk("doc-b", 0)])
    nodes = [
        node("person:ada", "Ada Lovelace"), node("team:atlas", "Atlas Team", "Team"),
        node("product:beacon", "Beacon", "Product"), node("product:lantern", "Lantern", "Product"),
        node("person:grace", "Grace Hopper"),
    ]
    edges = [
        records.GraphEdge("person:ada", "team:atlas", "LEADS"),
        records.GraphEdge("team:atlas", "product:beacon", "BUILDS", {"since": 2021}),
        records.GraphEdge("product:beacon", "product:lantern", "USES"),
        records.GraphEdge("person:grace", "team:atlas", "MEMBER_OF"),
    ]
    mentions = [
        ("person:ada", COLLECTION, "doc-a#0"), ("team:atlas", COLLECTION, "doc-a#0"),
        ("team:atlas", COLLECTION, "doc-a#1"), ("product:beacon", COLLECTION, "doc-b#0"),
        ("person:grace", COLLECTION, "doc-b#0"),
    ]
    await store.upsert(tenant, nodes, edges, mentions)


async def test_entities_by_ids_keeps_key_order_and_returns_none_for_missing(graph_store: GraphStore, tenant: str):
    await seed(graph_store, tenant)
    found = await graph_store.entities_by_ids(tenant, ["product:beacon", "nope", "person:ada"])
    assert [e.name if e else None for e in found] == ["Beacon", None, "Ada Lovelace"]
    assert found[0].properties == {"source": "test"}


async def test_neighbors_are_nearest_first_and_exclude_the_entity(graph_store: GraphStore, tenant: str):
    await seed(graph_store, tenant)
    one, two = await graph_store.neighbors(tenant, ["person:ada", "product:lantern"], hops=2)
    assert [(r.entity.id, r.hops) for r in one] == [
        ("team:atlas", 1), ("product:beacon", 2), ("person:grace", 2),
    ]
    assert [(r.entity.id, r.hops) for r in two] == [("product:beacon", 1), ("team:atlas", 2)]
    (hop1,) = await graph_store.neighbors(tenant, ["person:ada"], hops=1)
    assert [r.entity.id for r in hop1] == ["team:atlas"]


async def test_reach_lists_each_entity_once_at_its_nearest_seed(graph_store: GraphStore, tenant: str):
    await seed(graph_store, tenant)
    reached = await graph_store.reach(tenant, ["person:ada", "product:lantern"], hops=2)
    assert [(r.entity.id, r.hops) for r in reached] == [
        ("product:beacon", 1), ("team:atlas", 1), ("person:grace", 2),
    ]
    assert reached[1].entity.name == "Atlas Team"
    assert await graph_store.reach(tenant, [], hops=2) == []
    assert await graph_store.reach(tenant + "-other", ["person:ada"], hops=3) == []


async def test_relations_in_both_directions_with_properties(graph_store: GraphStore, tenant: str):
    await seed(graph_store, tenant)
    (atlas,) = await graph_store.relations(tenant, ["team:atlas"])
    assert {(r.source_id, r.type, r.target_id) for r in atlas} == {
        ("person:ada", "LEADS", "team:atlas"), ("team:atlas", "BUILDS", "product:beacon"),
        ("person:grace", "MEMBER_OF", "team:atlas"),
    }
    builds = next(r for r in atlas if r.type == "BUILDS")
    assert builds.properties == {"since": 2021}


async def test_mentions_and_entities_of_chunks(graph_store: GraphStore, tenant: str):
    await seed(graph_store, tenant)
    atlas, nobody = await graph_store.mentions(tenant, COLLECTION, ["team:atlas", "product:lantern"])
    assert [m.chunk_id for m in atlas] == ["doc-a#0", "doc-a#1"]
    assert nobody == []
    first, second, missing = await graph_store.entities_of_chunks(tenant, COLLECTION, ["doc-a#0", "doc-b#0", "x#0"])
    assert [e.id for e in first] == ["person:ada", "team:atlas"]
    assert [e.id for e in second] == ["product:beacon", "person:grace"]
    assert missing == []


async def test_mentions_with_chunk_entities_answers_as_mentions_and_entities_of_chunks(
    graph_store: GraphStore, tenant: str
):
    await seed(graph_store, tenant)
    ids = ["team:atlas", "product:lantern", "person:grace"]
    mentions, chunk_entities = await graph_store.mentions_with_chunk_entities(tenant, COLLECTION, ids)
    assert mentions == await graph_store.mentions(tenant, COLLECTION, ids)
    reached = ["doc-a#0", "doc-a#1", "doc-b#0"]
    assert sorted(chunk_entities) == reached
    assert [chunk_entities[c] for c in reached] == await graph_store.entities_of_chunks(tenant, COLLECTION, reached)
    assert chunk_entities["doc-b#0"][1].properties == {"source": "test"}
    assert await graph_store.mentions_with_chunk_entities(tenant + "-other", COLLECTION, ids) == ([[]] * 3, {})
    assert await graph_store.mentions_with_chunk_entities(tenant, "other", ids) == ([[]] * 3, {})


async def test_entities_by_names_matches_lowercased_names(graph_store: GraphStore, tenant: str):
    await seed(graph_store, tenant)
    found = await graph_store.entities_by_names(tenant, ["atlas team", "beacon", "unknown"])
    assert sorted(e.id for e in found) == ["product:beacon", "team:atlas"]


async def test_list_entities_pages_with_search_and_type(graph_store: GraphStore, tenant: str):
    await seed(graph_store, tenant)
    page = await graph_store.list_entities(tenant, search=None, kind=None, first=2, after=None)
    assert [e.id for e in page.entities] == ["person:ada", "person:grace"] and page.has_next
    page = await graph_store.list_entities(tenant, search=None, kind=None, first=2, after="person:grace")
    assert [e.id for e in page.entities] == ["product:beacon", "product:lantern"] and page.has_next
    page = await graph_store.list_entities(tenant, search=None, kind=None, first=2, after="product:lantern")
    assert [e.id for e in page.entities] == ["team:atlas"] and not page.has_next
    page = await graph_store.list_entities(tenant, search="AN", kind="Product", first=10, after=None)
    assert [e.id for e in page.entities] == ["product:lantern"]


async def test_upserts_are_idempotent(graph_store: GraphStore, tenant: str):
    await seed(graph_store, tenant)
    before = await graph_store.count_nodes(tenant)
    await seed(graph_store, tenant)
    assert await graph_store.count_nodes(tenant) == before == 5 + 3 + 2
    (atlas,) = await graph_store.relations(tenant, ["team:atlas"])
    assert len(atlas) == 3


async def test_tenants_do_not_see_each_other(graph_store: GraphStore, tenant: str):
    await seed(graph_store, tenant)
    other = tenant + "-other"
    assert await graph_store.entities_by_ids(other, ["person:ada"]) == [None]
    assert await graph_store.neighbors(other, ["person:ada"], hops=3) == [[]]
    assert await graph_store.entities_of_chunks(other, COLLECTION, ["doc-a#0"]) == [[]]
    assert (await graph_store.list_entities(other, search=None, kind=None, first=10, after=None)).entities == []


async def test_delete_document_removes_chunks_and_orphaned_entities(graph_store: GraphStore, tenant: str):
    await seed(graph_store, tenant)
    chunks, entities = await graph_store.delete_document(tenant, COLLECTION, "doc-b")
    assert (chunks, entities) == (1, 2)  # beacon and grace were only mentioned in doc-b
    found = await graph_store.entities_by_ids(tenant, ["product:beacon", "person:grace", "team:atlas"])
    assert [e.id if e else None for e in found] == [None, None, "team:atlas"]
    assert await graph_store.count_nodes(tenant) == 3 + 2 + 1  # ada, atlas, lantern; doc-a chunks; doc-a


async def test_replace_document_drops_stale_chunks_and_mentions(graph_store: GraphStore, tenant: str):
    await seed(graph_store, tenant)
    previously = await graph_store.replace_document(tenant, COLLECTION, "doc-a", "Doc A", [chunk("doc-a", 0)])
    assert sorted(previously) == ["person:ada", "team:atlas"]
    assert await graph_store.existing_chunks(tenant, COLLECTION, ["doc-a#0", "doc-a#1"]) == {"doc-a#0"}
    assert await graph_store.entities_of_chunks(tenant, COLLECTION, ["doc-a#0"]) == [[]]
    assert await graph_store.prune_entities(tenant, previously) == 2  # both were only mentioned in doc-a
    assert await graph_store.entities_by_ids(tenant, ["person:ada", "team:atlas"]) == [None, None]


async def test_cypher_text_in_values_is_stored_verbatim(graph_store: GraphStore, tenant: str):
    hostile = "Person`) DETACH DELETE n //"
    await graph_store.upsert(tenant, [node("x:1", hostile, "Person")], [])
    (found,) = await graph_store.entities_by_ids(tenant, ["x:1"])
    assert found.name == hostile
    assert await graph_store.count_nodes(tenant) == 1


WRITES = [
    "CREATE (:Hacked {x: 1})",
    "create (:Hacked)",
    "MATCH (n) SET n.hacked = true",
    "MATCH (n)  DETACH\n DELETE n",
    "MERGE (n:Hacked {x: 1}) RETURN n",
    "/* harmless */ MATCH (n:Entity) REMOVE n.name",
    "MATCH (n) RETURN n; CREATE (:Hacked)",
    "MATCH (n:Entity) WITH n LIMIT 1 CREATE (n)-[:HACKED]->(:Hacked) RETURN n",
    "LOAD CSV FROM 'file:///etc/passwd' AS row RETURN row",
    "CALL db.idx.fulltext.createNodeIndex('Hacked', 'x')",
    "CALL db.createLabel('Hacked')",
]


@pytest.mark.parametrize("cypher", WRITES)
async def test_graph_query_refuses_writes_and_leaves_data_unchanged(graph_store: GraphStore, tenant: str, cypher):
    await seed(graph_store, tenant)
    before = await graph_store.count_nodes(tenant)
    with pytest.raises(BadUserInput):
        await graph_store.user_query(cypher, {}, row_cap=100, timeout_s=5)
    assert await graph_store.count_nodes(tenant) == before
    rows = await graph_store.user_query("MATCH (n:Hacked) RETURN count(n) AS hacked", {}, row_cap=10, timeout_s=5)
    assert rows == [{"hacked": 0}]


async def test_graph_query_reads_with_parameters_and_caps_rows(graph_store: GraphStore, tenant: str):
    await seed(graph_store, tenant)
    rows = await graph_store.user_query(
        "MATCH (e:Entity {tenant: $t}) RETURN e.id AS id, e.name AS name ORDER BY id", {"t": tenant}, 100, 5
    )
    assert rows[0] == {"id": "person:ada", "name": "Ada Lovelace"} and len(rows) == 5
    node_rows = await graph_store.user_query(
        "MATCH (e:Entity {tenant: $t, id: 'team:atlas'}) RETURN e", {"t": tenant}, 10, 5
    )
    assert node_rows[0]["e"]["labels"] == ["Entity"]
    assert node_rows[0]["e"]["properties"]["name"] == "Atlas Team"
    with pytest.raises(BadUserInput, match="more than 3 rows"):
        await graph_store.user_query("MATCH (e:Entity {tenant: $t}) RETURN e.id", {"t": tenant}, 3, 5)
    with pytest.raises(BadUserInput):
        await graph_store.user_query("MATCH (e RETURN e", {}, 10, 5)
