"""The query API on the demo corpus, on both graph engines, asserting concrete results."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ragweave.datasources.lifecycle import Datasources
from ragweave.demo.loader import CORPUS, load_demo_graph, read_folder
from ragweave.resolvers.extraction import RuleExtractor
from ragweave.resolvers.ingest import Ingestor
from tests.graphql import SETTINGS, execute

_seeded: dict[str, str] = {}


@pytest.fixture
async def demo(datasources: Datasources) -> str:
    """The demo corpus and its hand-checked graph, loaded once per graph engine under its own tenant."""
    engine = datasources.graph.dialect
    if engine not in _seeded:
        tenant = f"demo-{engine}"
        documents = read_folder(CORPUS)
        await Ingestor(datasources, tenant, "chunks", RuleExtractor(), 800, 120).run(documents)
        await load_demo_graph(datasources, replace(SETTINGS, tenant=tenant), documents)
        _seeded[engine] = tenant
    return _seeded[engine]


async def test_search_finds_the_sentence_that_answers(datasources, demo):
    query = '{ search(query: "Who leads the Atlas Team?", topK: 3) { score chunk { id text document { id } } } }'
    hits = (await execute(datasources, query, tenant=demo)).ok()["search"]
    assert len(hits) == 3 and hits[0]["score"] >= hits[1]["score"] >= hits[2]["score"]
    assert any("Tomas Reyes leads the Atlas Team" in h["chunk"]["text"] for h in hits)


async def test_a_search_alone_answers_from_records_as_the_executor_does_from_objects(datasources, demo, monkeypatch):
    """Alone, with a selection of built-in scalars, `search` is a direct run: it answers the vector store's records,
    which the completer reads as it reads the objects of the executor's path (SearchHit.plain_record)."""
    from ragweave.resolvers import search as search_resolver

    objects: list[type] = []
    make = search_resolver.built
    monkeypatch.setattr(search_resolver, "built", lambda cls, attributes: objects.append(cls) or make(cls, attributes))
    question = "Who leads the Atlas Team?"
    fields = "score __typename chunk { id text documentId index __typename }"
    alone = (await execute(datasources, f'{{ search(query: "{question}", topK: 4) {{ {fields} }} }}', tenant=demo)).ok()
    assert objects == []
    beside = (await execute(datasources, f'{{ a: search(query: "{question}", topK: 4) {{ {fields} }} '
                                         f'b: search(query: "outage", topK: 1) {{ score }} }}', tenant=demo)).ok()
    assert objects and set(objects) == {search_resolver.SearchHit}
    assert len(alone["search"]) == 4 and alone["search"] == beside["a"]


async def test_search_filters_by_document_and_metadata(datasources, demo):
    query = """{
        a: search(query: "outage", topK: 5, filter: {documentIds: ["atlas-launch.md"]}) { chunk { documentId } }
        b: search(query: "outage", topK: 5, filter: {metadata: {lang: "fr"}}) { chunk { id } } }"""
    data = (await execute(datasources, query, tenant=demo)).ok()
    assert data["a"] and {h["chunk"]["documentId"] for h in data["a"]} == {"atlas-launch.md"}
    assert data["b"] == []


async def test_retrieve_fuses_graph_reached_chunks_and_explains_them(datasources, demo):
    query = """{ retrieve(query: "What happened during the Tidewater Outage?", topK: 6, maxHops: 1) {
        hits { score scores { vector graph fused } chunk { id document { id } } citations { via { id } } }
        subgraph { nodes { id } edges { type source { id } target { id } } }
        degraded queryTimeMs } }"""
    retrieval = (await execute(datasources, query, tenant=demo)).ok()["retrieve"]
    hits = retrieval["hits"]
    assert retrieval["degraded"] == [] and len(hits) == 6 and retrieval["queryTimeMs"] >= 0
    assert [h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True)
    assert all(h["score"] == h["scores"]["fused"] for h in hits)
    assert any(h["chunk"]["document"]["id"] == "tidewater-outage-postmortem.md" for h in hits[:3])
    node_ids = {n["id"] for n in retrieval["subgraph"]["nodes"]}
    assert {"event:tidewater-outage", "product:tidewater-platform"} <= node_ids
    for edge in retrieval["subgraph"]["edges"]:
        assert edge["source"]["id"] in node_ids and edge["target"]["id"] in node_ids
    graph_hits = [h for h in hits if h["citations"][0]["via"]]
    assert graph_hits and all(h["scores"]["graph"] > 0 for h in graph_hits)


async def test_citations_are_built_when_selected_through_fragments_too(datasources, demo):
    """`retrieve` builds each hit's citations only when the operation selects them (look-ahead), however it does."""
    ask = 'retrieve(query: "What happened during the Tidewater Outage?", topK: 4, maxHops: 1)'
    cited = "citations { chunk { id } document { id } via { id } }"
    direct = (await execute(datasources, f"{{ {ask} {{ hits {{ chunk {{ id }} {cited} }} }} }}", tenant=demo)).ok()
    assert all(len(h["citations"]) == 1 and h["citations"][0]["chunk"]["id"] == h["chunk"]["id"]
               for h in direct["retrieve"]["hits"])
    assert any(h["citations"][0]["via"] for h in direct["retrieve"]["hits"])
    for selection in (f"hits {{ chunk {{ id }} ...C }} }} }} fragment C on RetrievalHit {{ {cited} }}",
                      f"hits {{ chunk {{ id }} ... on RetrievalHit {{ {cited} }} }} }} }}",
                      f"... on Retrieval {{ hits {{ chunk {{ id }} {cited} }} }} }} }}"):
        assert (await execute(datasources, f"{{ {ask} {{ {selection}", tenant=demo)).ok() == direct, selection
    documents = "hits { chunk { documentId } citations { document { id } } } } }"
    plain = (await execute(datasources, f"{{ {ask} {{ {documents}", tenant=demo)).ok()["retrieve"]["hits"]
    assert plain and all([c["document"]["id"] for c in h["citations"]] == [h["chunk"]["documentId"]] for h in plain)
    # the same hits without citations (`scores.graph` asks for the graph expansion, as `citations.via` does)
    without = (await execute(datasources, f"{{ {ask} {{ hits {{ chunk {{ id }} scores {{ graph }} }} }} }}",
                             tenant=demo)).ok()
    assert [h["chunk"] for h in without["retrieve"]["hits"]] == [h["chunk"] for h in direct["retrieve"]["hits"]]


async def test_rerank_is_done_only_when_asked_for(datasources, demo):
    query = '{ retrieve(query: "Beacon Console dashboard", topK: 4) { hits { scores { vector fused rerank } } } }'
    response = await execute(datasources, query, tenant=demo)
    scores = [h["scores"]["rerank"] for h in response.ok()["retrieve"]["hits"]]
    assert scores == sorted(scores, reverse=True) and scores[0] == 1.0
    assert response.calls["reranker.rerank"] == 1


async def test_answer_to_chunk_to_document_to_entities_to_relations_in_one_query(datasources, demo):
    query = """{ chunk(id: "atlas-engine.md#0") { documentId index document { id title chunks(first: 2) { index } }
                  entities { id relations(first: 50) { type source { id } target { id } } } } }"""
    chunk = (await execute(datasources, query, tenant=demo)).ok()["chunk"]
    assert chunk["documentId"] == "atlas-engine.md" and chunk["index"] == 0
    assert chunk["document"]["title"] == "The Atlas Engine" and [c["index"] for c in chunk["document"]["chunks"]] == [
        0,
        1,
    ]
    atlas_team = next(e for e in chunk["entities"] if e["id"] == "team:atlas-team")
    assert {"type": "LEADS", "source": {"id": "person:tomas-reyes"}, "target": {"id": "team:atlas-team"}} in (
        atlas_team["relations"]
    )


async def test_entity_neighbours_relations_and_mentions(datasources, demo):
    query = """{ entity(id: "team:atlas-team") { name type
        neighbors(hops: 1, first: 50) { id } far: neighbors(hops: 2, first: 200) { id }
        mentions(first: 3) { id text } } missing: entity(id: "person:nobody") { id } }"""
    data = (await execute(datasources, query, tenant=demo)).ok()
    entity = data["entity"]
    assert entity["name"] == "Atlas Team" and entity["type"] == "Team" and data["missing"] is None
    near = {n["id"] for n in entity["neighbors"]}
    assert {"person:tomas-reyes", "product:atlas-engine", "product:beacon-console"} <= near
    assert "team:atlas-team" not in near and near < {n["id"] for n in entity["far"]}
    assert len(entity["mentions"]) == 3 and all("Atlas Team" in c["text"] for c in entity["mentions"])


async def test_entities_pages_through_every_entity_once(datasources, demo):
    seen: list[str] = []
    after = None
    while True:
        response = await execute(
            datasources,
            """query ($after: String) {
            entities(first: 7, after: $after) { edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }""",
            {"after": after},
            tenant=demo,
        )
        page = response.ok()["entities"]
        seen += [e["node"]["id"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == sorted(seen) and len(seen) == len(set(seen)) and "team:atlas-team" in seen
    teams = (
        await execute(
            datasources, '{ entities(search: "ATLAS", type: "Team") { edges { node { name } } } }', tenant=demo
        )
    ).ok()["entities"]["edges"]
    assert [e["node"]["name"] for e in teams] == ["Atlas Team"]
    bad = await execute(datasources, '{ entities(after: "not-a-cursor") { edges { cursor } } }', tenant=demo)
    assert bad.codes() == ["BAD_USER_INPUT"]


@pytest.mark.parametrize(
    "field",
    [
        '{ search(query: "x", topK: 0) { score } }',
        '{ search(query: "x", topK: 101) { score } }',
        '{ retrieve(query: "x", maxHops: 4) { queryTimeMs } }',
        '{ entity(id: "team:atlas-team") { neighbors(hops: 4) { id } } }',
        '{ entity(id: "team:atlas-team") { mentions(first: 201) { id } } }',
        "{ entities(first: 0) { edges { cursor } } }",
        '{ search(query: "   ") { score } }',
        '{ search(query: "x", collection: "../etc") { score } }',
        "{ embed(texts: []) { dim } }",
    ],
)
async def test_limits_are_bad_user_input(datasources, demo, field):
    response = await execute(datasources, field, tenant=demo)
    assert response.codes() == ["BAD_USER_INPUT"], response.errors


async def test_graph_query_is_admin_only_and_read_only(datasources, demo):
    query = "query ($c: String!, $p: JSON) { graphQuery(cypher: $c, params: $p) }"
    read = {"c": "MATCH (e:Entity {tenant: $t, id: 'team:atlas-team'}) RETURN e.name AS name", "p": {"t": demo}}
    assert (await execute(datasources, query, read, tenant=demo)).ok()["graphQuery"] == [{"name": "Atlas Team"}]
    assert (await execute(datasources, query, read, tenant=demo, role="writer")).codes() == ["FORBIDDEN"]
    write = {"c": "MATCH (e:Entity) DETACH DELETE e", "p": None}
    assert (await execute(datasources, query, write, tenant=demo)).codes() == ["BAD_USER_INPUT"]
    assert (await execute(datasources, query, read, tenant=demo)).ok()["graphQuery"] == [{"name": "Atlas Team"}]


async def test_embed_and_rerank(datasources, demo):
    data = (
        await execute(
            datasources,
            """{ embed(texts: ["harbour", "tide tables"]) { dim model vectors }
        rerank(query: "tide tables", documents: ["tide tables and forecasts", "", "cargo", "tide tables and forecasts"],
               topN: 3) { index score document } }""",
            tenant=demo,
        )
    ).ok()
    assert data["embed"]["dim"] == 384 and len(data["embed"]["vectors"]) == 2
    assert data["embed"]["model"] == "all-MiniLM-L6-v2" and len(data["embed"]["vectors"][0]) == 384
    assert [(r["index"], r["score"]) for r in data["rerank"]] == [(0, 1.0), (3, 1.0), (1, 0.0)]


async def test_whoami_names_the_backends(datasources, demo):
    data = (
        await execute(
            datasources, "{ whoami { tenant embeddingModel graphDialect extractor reranker schemaHash } }", tenant=demo
        )
    ).ok()["whoami"]
    assert data["tenant"] == demo and data["embeddingModel"] == "all-MiniLM-L6-v2"
    assert data["graphDialect"] == datasources.graph.dialect and data["extractor"] == "rules"
    assert data["reranker"] == "bm25" and len(data["schemaHash"]) == 16
