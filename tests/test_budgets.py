"""Backend calls per operation stay constant as the result grows (Saleor-style query-count budgets).

The counts come from `extensions.backendCalls`, counted at the datasource boundary, on real backends.
"""

from __future__ import annotations

from pathlib import Path

from ragweave import records
from ragweave.datasources.vectors import ChunkPoint
from tests.corpus import seed_corpus
from tests.graphql import execute

OPERATIONS = (Path(__file__).parent.parent / "perf" / "operations.graphql").read_text()


async def test_deep_retrieve_makes_the_same_backend_calls_for_1_10_and_50_hits(datasources, tenant):
    await seed_corpus(datasources, tenant)
    calls = {}
    for k in (1, 10, 50):
        variables = {"q": "launch plan of the Atlas team", "k": k}
        response = await execute(datasources, OPERATIONS, variables, tenant=tenant, operation="Deep")
        data = response.ok()
        assert len(data["retrieve"]["hits"]) == k
        calls[k] = response.calls
    assert calls[1] == calls[10] == calls[50], calls
    assert calls[50] == {
        "llm.embed": 1,
        "vectors.query_many": 1,
        "vectors.chunks_by_ids": 1,
        "graph.entities_by_names": 1,
        "graph.entities_of_chunks": 1,  # the seeds; nested chunk.entities are answered from the loader cache
        "graph.reach": 1,  # the expansion (hops 2), one row per reached entity
        "graph.neighbors": 1,  # the nested neighbors(hops: 1)
        "graph.mentions_with_chunk_entities": 1,  # with the entities of the chunks only the graph reached
        "graph.relations": 1,  # the subgraph's edges
    }


async def _add_chunks(ds, tenant: str, texts: dict[str, str], mentions: dict[str, list[str]]) -> None:
    chunks = [records.Chunk(id=f"{doc}#0", document_id=doc, index=0, document_title=doc, text=text)
              for doc, text in texts.items()]
    vectors = await ds.embedder.embed_many([c.text for c in chunks])
    await ds.vectors.upsert(tenant, "chunks", [ChunkPoint(c, v, "h") for c, v in zip(chunks, vectors, strict=True)])
    for c in chunks:
        await ds.graph.replace_document(tenant, "chunks", c.document_id, c.document_title, [c])
    await ds.graph.upsert(tenant, [], [], [(e, "chunks", f"{doc}#0") for doc, es in mentions.items() for e in es])


async def test_hits_only_the_graph_found_list_their_entities_without_another_graph_call(datasources, tenant):
    """Vector hits that mention nothing rank below chunks the graph ranks first, so those join the hits."""
    await seed_corpus(datasources, tenant)
    drafts = {f"draft-{n}": f"The launch plan of the Atlas team, draft {n}." for n in range(8)}
    hubs = {f"hub-{n}": f"Seating chart {n}." for n in range(2)}
    members = ["team:atlas", "person:0", "person:5", "person:10", "person:1", "person:6"]
    await _add_chunks(datasources, tenant, drafts | hubs, {hub: members[n:] for n, hub in enumerate(hubs)})
    variables = {"q": "launch plan of the Atlas team", "k": 8}
    response = await execute(datasources, OPERATIONS, variables, tenant=tenant, operation="Deep")
    hits = response.ok()["retrieve"]["hits"]
    graph_only = [h["chunk"] for h in hits if h["scores"]["vector"] is None]
    assert graph_only, "the corpus must put chunks only the graph reached among the hits"
    assert response.calls["graph.entities_of_chunks"] == 1 and response.calls["graph.mentions_with_chunk_entities"] == 1
    for chunk in [h["chunk"] for h in hits]:
        alone = await execute(datasources, "query($id: ID!) { chunk(id: $id) { entities { id name } } }",
                              {"id": chunk["id"]}, tenant=tenant)
        assert alone.calls["graph.entities_of_chunks"] == 1
        assert [(e["id"], e["name"]) for e in chunk["entities"]] == [
            (e["id"], e["name"]) for e in alone.ok()["chunk"]["entities"]
        ]


async def test_search_selecting_only_chunk_text_never_touches_the_graph(datasources, tenant):
    await seed_corpus(datasources, tenant, size=12)
    response = await execute(datasources, OPERATIONS, {"q": "launch plan", "k": 10}, tenant=tenant, operation="Small")
    assert len(response.ok()["search"]) == 10
    assert response.calls == {"llm.embed": 1, "vectors.query_many": 1}


async def test_retrieve_without_graph_fields_makes_no_graph_calls(datasources, tenant):
    await seed_corpus(datasources, tenant, size=12)
    variables = {"q": "launch plan", "k": 5}
    response = await execute(datasources, OPERATIONS, variables, tenant=tenant, operation="VectorOnlyRetrieve")
    hits = response.ok()["retrieve"]["hits"]
    assert len(hits) == 5 and all(h["scores"]["vector"] is not None for h in hits)
    assert response.calls == {"llm.embed": 1, "vectors.query_many": 1}


async def test_aliases_and_side_by_side_fields_share_one_embeddings_call(datasources, tenant):
    await seed_corpus(datasources, tenant, size=12)
    query = """
      query Many {
        a: search(query: "launch plan", topK: 3) { score }
        b: search(query: "Atlas team", topK: 3) { score }
        c: retrieve(query: "Person 4", topK: 3) { hits { score } }
      }"""
    response = await execute(datasources, query, tenant=tenant)
    data = response.ok()
    assert len(data["a"]) == len(data["b"]) == len(data["c"]["hits"]) == 3
    assert response.calls == {"llm.embed": 1, "vectors.query_many": 1}


async def test_graph_fields_asked_through_fragments_are_seen_and_each_document_keeps_its_own_look_ahead(
    datasources, tenant
):
    await seed_corpus(datasources, tenant, size=12)
    graph_via_fragments = """
      query ViaFragments($q: String!) {
        retrieve(query: $q, topK: 3) { ...Hits }
      }
      fragment Hits on Retrieval { hits { ... on RetrievalHit { scores { ...Graph } } } }
      fragment Graph on ScoreBreakdown { graph }
    """
    vector_only = "query VectorOnly($q: String!) { retrieve(query: $q, topK: 3) { hits { scores { vector } } } }"
    for _ in range(2):  # the second round answers from the look-ahead kept per document
        graph = await execute(datasources, graph_via_fragments, {"q": "launch plan"}, tenant=tenant)
        assert len(graph.ok()["retrieve"]["hits"]) == 3
        assert graph.calls.get("graph.reach") == 1, graph.calls
        vector = await execute(datasources, vector_only, {"q": "launch plan"}, tenant=tenant)
        assert len(vector.ok()["retrieve"]["hits"]) == 3
        assert vector.calls == {"llm.embed": 1, "vectors.query_many": 1}
