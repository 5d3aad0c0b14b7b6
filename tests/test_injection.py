"""Hostile text in filter values, ids, query text and graphQuery parameters is a value, never syntax.

Every case either answers (no match, or exactly the matching data) or is BAD_USER_INPUT, and leaves the vector
and graph counts unchanged. Runs on both graph engines (`graph_store` is parametrised); the filter cases also on
both vector adapters (qdrant-edge and qdrant-client local mode).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from qdrant_client import AsyncQdrantClient

from ragweave.datasources.embeddings import LocalEmbedder
from ragweave.datasources.graph import GraphStore
from ragweave.datasources.lifecycle import Datasources
from ragweave.datasources.reranker import LexicalReranker
from ragweave.datasources.vectors_edge import EdgeVectorStore
from ragweave.datasources.vectors_qdrant import QdrantVectorStore
from tests.graphql import Response, execute

HOSTILE = [
    "' OR 1=1 //",
    '"}) MATCH (n) DETACH DELETE n //',
    "`}) DETACH DELETE n //",
    'a\\"}) MATCH (n) DETACH DELETE n //',
    "a\\",
    "en'}) RETURN 1 UNION MATCH (n) RETURN n //",
    '{"$ne": null}',
    "$tenant",
    "x\u0000y",
    "\U0001f600\u202e\u200b\ufeff",
    "x" * 100_000,
]
ODD = "' OR 1=1 //"
DOCS = [
    {"id": "plain.md", "text": "Mara Quist leads the Atlas Team.", "metadata": {"lang": "en"}},
    {"id": "odd.md", "text": "Zora Quill works at Ferry Works.", "metadata": {"lang": ODD}},
]
INGEST = "mutation ($d: [DocumentInput!]!) { ingest(documents: $d) { chunks failures { message } } }"
SEARCH = """query ($q: String!, $f: ChunkFilter) {
  search(query: $q, topK: 5, filter: $f) { chunk { id } }
  retrieve(query: $q, topK: 5, maxHops: 2, filter: $f) {
    hits { chunk { id } citations { via { id } } } subgraph { nodes { id } } degraded }
}"""


@pytest.fixture(params=["edge", "qdrant-local"])
async def ds(
    request: pytest.FixtureRequest, graph_store: GraphStore, edge_vectors: EdgeVectorStore, embedder: LocalEmbedder
) -> AsyncIterator[Datasources]:
    vectors = edge_vectors
    if request.param == "qdrant-local":
        vectors = QdrantVectorStore(AsyncQdrantClient(location=":memory:"), embedder.dim)
    yield Datasources(vectors=vectors, graph=graph_store, embedder=embedder, chat=None, reranker=LexicalReranker())
    if vectors is not edge_vectors:
        await vectors.close()


async def seeded(ds: Datasources, tenant: str) -> tuple[int, int, int]:
    report = (await execute(ds, INGEST, {"d": DOCS}, tenant=tenant)).ok()["ingest"]
    assert report == {"chunks": 2, "failures": []}
    return await counts(ds, tenant)


async def counts(ds: Datasources, tenant: str) -> tuple[int, int, int]:
    edges = await ds.graph.user_query(
        "MATCH (a {tenant: $t})-[r]->() RETURN count(r) AS n", {"t": tenant}, row_cap=1, timeout_s=5
    )
    hacked = await ds.graph.user_query("MATCH (n:Hacked) RETURN count(n) AS n", {}, row_cap=1, timeout_s=5)
    assert hacked == [{"n": 0}]
    return await ds.vectors.count(tenant, "chunks"), await ds.graph.count_nodes(tenant), edges[0]["n"]


def answered_or_refused(response: Response) -> dict | None:
    """The data when the request was answered; None when it was refused as BAD_USER_INPUT (nothing else)."""
    if response.errors:
        assert set(response.codes()) == {"BAD_USER_INPUT"}, response.errors
        return None
    return response.ok()


async def test_hostile_filter_values_match_nothing_and_change_nothing(ds: Datasources, tenant: str):
    before = await seeded(ds, tenant)
    for value in HOSTILE:
        for flt in ({"documentIds": [value]}, {"metadata": {"lang": value}}, {"documentIds": ["plain.md", value]}):
            data = answered_or_refused(await execute(ds, SEARCH, {"q": "Who leads the team?", "f": flt}, tenant=tenant))
            if data is None:
                continue
            expected = ["plain.md#0"] if "plain.md" in flt.get("documentIds", ()) else []
            if flt.get("metadata") == {"lang": ODD}:
                expected = ["odd.md#0"]  # a stored value that looks like Cypher is matched exactly, as a value
            assert [h["chunk"]["id"] for h in data["search"]] == expected, (value[:40], flt.keys())
            assert [h["chunk"]["id"] for h in data["retrieve"]["hits"]] == expected
            assert data["retrieve"]["degraded"] == []
    assert await counts(ds, tenant) == before


async def test_a_metadata_value_that_looks_like_cypher_matches_exactly_its_document(ds: Datasources, tenant: str):
    before = await seeded(ds, tenant)
    variables = {"q": "Who works where?", "f": {"metadata": {"lang": ODD}}}
    data = (await execute(ds, SEARCH, variables, tenant=tenant)).ok()
    assert [h["chunk"]["id"] for h in data["search"]] == ["odd.md#0"]
    assert [h["chunk"]["id"] for h in data["retrieve"]["hits"]] == ["odd.md#0"]
    near = {"q": "Who works where?", "f": {"metadata": {"lang": ODD + " "}}}
    assert (await execute(ds, SEARCH, near, tenant=tenant)).ok()["search"] == []
    assert await counts(ds, tenant) == before


BAD_FILTERS = [
    {"metadata": "lang = 'en' OR 1=1"},
    {"metadata": ["lang", "en"]},
    {"metadata": {"lang') OR 1=1 //": "en"}},
    {"metadata": {"lang": {"$ne": None}}},
    {"metadata": {"lang": ["en", "de"]}},
    {"metadata": {"lang": None}},
    {"metadata": {"lang": 1.5}},
    {"metadata": {"": "en"}},
    {"metadata": {"a..lang": "en"}},
    {"metadata": {"lang[]": "en"}},
    {"metadata": {"../tenant": "en"}},
    {"documentIds": [f"d{k}" for k in range(1001)]},
]


async def test_filters_that_are_not_plain_equalities_are_bad_user_input(ds: Datasources, tenant: str):
    before = await seeded(ds, tenant)
    for flt in BAD_FILTERS:
        response = await execute(ds, SEARCH, {"q": "team", "f": flt}, tenant=tenant)
        assert response.data is None and set(response.codes()) == {"BAD_USER_INPUT"}, (flt, response.errors)
    assert await counts(ds, tenant) == before


LOOKUPS = """query ($v: String!, $id: ID!) {
  search(query: $v, topK: 3) { chunk { id } }
  retrieve(query: $v, topK: 3) { hits { chunk { id } } subgraph { nodes { id } } degraded }
  chunk(id: $id) { id } document(id: $id) { id } entity(id: $id) { id }
  entities(search: $v, type: $v, first: 5) { edges { node { id } } }
}"""


async def test_hostile_ids_and_query_text_find_nothing_and_change_nothing(ds: Datasources, tenant: str):
    before = await seeded(ds, tenant)
    for value in HOSTILE:
        data = answered_or_refused(await execute(ds, LOOKUPS, {"v": value, "id": value}, tenant=tenant))
        if data is None:
            continue
        assert (data["chunk"], data["document"], data["entity"]) == (None, None, None), value[:40]
        assert data["entities"]["edges"] == [] and data["retrieve"]["degraded"] == []
    assert await counts(ds, tenant) == before


GRAPH_QUERY = "query ($c: String!, $p: JSON) { graphQuery(cypher: $c, params: $p) }"


async def graph_query(ds: Datasources, tenant: str, cypher: str, params: object) -> Response:
    return await execute(ds, GRAPH_QUERY, {"c": cypher, "p": params}, tenant=tenant)


async def test_graph_query_parameters_are_values_never_syntax(datasources: Datasources, tenant: str):
    before = await seeded(datasources, tenant)
    for value in HOSTILE:
        for params in ({"p": value}, {"p": {"k": value, "nested": [value]}}):
            rows = answered_or_refused(await graph_query(datasources, tenant, "RETURN $p AS p", params))
            assert rows is None or rows["graphQuery"] == [{"p": params["p"]}], value[:40]
        count = "MATCH (e:Entity {tenant: $t}) WHERE e.name = $v OR e.id = $v RETURN count(e) AS n"
        rows = answered_or_refused(await graph_query(datasources, tenant, count, {"t": tenant, "v": value}))
        assert rows is None or rows["graphQuery"] == [{"n": 0}], value[:40]
    for number in (2**63, -(2**63) - 1, 2**70):  # FalkorDB would clamp it to another value, Neo4j's driver raise
        assert (await graph_query(datasources, tenant, "RETURN $p AS p", {"p": [number]})).codes() == ["BAD_USER_INPUT"]
    edge = {"p": [-(2**63), 2**63 - 1, 1e308, True, None, {"a": {"b": [[]]}}]}
    assert (await graph_query(datasources, tenant, "RETURN $p AS p", edge)).ok()["graphQuery"] == [edge]
    count = "MATCH (e:Entity {tenant: $t}) WHERE e.name = $v RETURN count(e) AS n"
    rows = (await graph_query(datasources, tenant, count, {"t": tenant, "v": "Mara Quist"})).ok()["graphQuery"]
    assert rows == [{"n": 1}]
    assert await counts(datasources, tenant) == before


HOSTILE_KEYS = ["a`b", "x) DETACH DELETE n //", "t = 1 MATCH (n) DETACH DELETE n //", "", "\u0000", "$t"]


async def test_graph_query_parameter_names_cannot_smuggle_syntax(datasources: Datasources, tenant: str):
    before = await seeded(datasources, tenant)
    for key in HOSTILE_KEYS:
        data = answered_or_refused(await graph_query(datasources, tenant, "RETURN 1 AS one", {key: 1, "t": tenant}))
        assert data is None or data["graphQuery"] == [{"one": 1}], key
        nested = {"t": tenant, "m": {key: "MATCH (n) DETACH DELETE n"}}
        data = answered_or_refused(await graph_query(datasources, tenant, "RETURN $m AS m", nested))
        assert data is None or data["graphQuery"] == [{"m": nested["m"]}], key
    assert await counts(datasources, tenant) == before


WRITES_WITH_PARAMS = [
    ("CREATE (:Hacked {x: $v})", {"v": "MATCH (n) DETACH DELETE n"}),
    ("MATCH (e:Entity {tenant: $t}) SET e.name = $v RETURN e.id", {"v": "pwned"}),
    ("MATCH (e:Entity {tenant: $t}) DETACH DELETE e", {}),
    ("MERGE (h:Hacked {tenant: $t}) RETURN h", {}),
    ("MATCH (e:Entity {tenant: $t}) WITH e LIMIT 1 CREATE (e)-[:HACKED {by: $v}]->(:Hacked) RETURN 1", {"v": "x"}),
    ("MATCH (e:Entity {tenant: $t}) REMOVE e.name RETURN count(e)", {}),
    ("UNWIND $rows AS r CREATE (:Hacked {x: r})", {"rows": ["a", "b"]}),
    ("LOAD CSV FROM $url AS row RETURN row", {"url": "file:///etc/passwd"}),
    ("CALL db.idx.fulltext.createNodeIndex($label, $prop)", {"label": "Hacked", "prop": "x"}),
    ("CALL apoc.cypher.runWrite($q, {}) YIELD value RETURN value", {"q": "CREATE (:Hacked)"}),
    ("WITH $q AS q CALL { WITH q CREATE (:Hacked {q: q}) } RETURN q", {"q": "x"}),
]


@pytest.mark.parametrize(("cypher", "params"), WRITES_WITH_PARAMS, ids=lambda v: json.dumps(v)[:40])
async def test_graph_query_writes_are_refused_with_a_stable_code(
    datasources: Datasources, tenant: str, cypher: str, params: dict
):
    before = await seeded(datasources, tenant)
    response = await graph_query(datasources, tenant, cypher, {"t": tenant, **params})
    assert response.data is None and response.codes() == ["BAD_USER_INPUT"], response.errors
    assert await counts(datasources, tenant) == before
    names = await graph_query(datasources, tenant, "MATCH (e:Entity {tenant: $t}) RETURN e.name AS n", {"t": tenant})
    assert "pwned" not in str(names.ok()) and "Mara Quist" in str(names.ok())


DOCUMENT = "query ($id: ID!) { document(id: $id) { id title chunks { text } } }"


async def test_hostile_document_ids_and_titles_are_stored_verbatim_or_refused_whole(ds: Datasources, tenant: str):
    before = await seeded(ds, tenant)
    for k, value in enumerate(HOSTILE):
        for doc in ({"id": value, "text": "Otto Vance works at Kestrel Labs."},
                    {"id": f"titled-{k}.md", "title": value, "text": "Otto Vance works at Kestrel Labs."}):
            data = answered_or_refused(await execute(ds, INGEST, {"d": [doc]}, tenant=tenant))
            after = await counts(ds, tenant)
            if data is None:
                assert after == before, value[:40]  # refused whole: nothing half-written
                continue
            assert data["ingest"] == {"chunks": 1, "failures": []}, value[:40]
            found = (await execute(ds, DOCUMENT, {"id": doc["id"]}, tenant=tenant)).ok()["document"]
            assert found["id"] == doc["id"] and found["title"] == doc.get("title")
            assert found["chunks"] == [{"text": doc["text"]}]
            before = after
