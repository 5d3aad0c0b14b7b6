"""The graph server dies mid-test: retrieve keeps its vector hits and says what degraded; recovery needs no restart."""

from __future__ import annotations

import asyncio
from pathlib import Path

from ragweave.datasources.embeddings import LocalEmbedder
from ragweave.datasources.falkordb_process import EmbeddedFalkorDB
from ragweave.datasources.graph import GraphStore
from ragweave.datasources.graph_falkordb import FalkorRunner
from ragweave.datasources.lifecycle import Datasources
from ragweave.datasources.reranker import LexicalReranker
from ragweave.datasources.vectors_edge import EdgeVectorStore
from tests.corpus import seed_corpus
from tests.graphql import execute

RETRIEVE = """
query ($q: String!) {
  retrieve(query: $q, topK: 5, maxHops: 2) {
    hits { chunk { id } scores { vector graph fused } citations { via { id } } }
    subgraph { nodes { id } }
    degraded
  }
}"""


async def graph_of_its_own(
    tmp_path: Path, edge_vectors: EdgeVectorStore, embedder: LocalEmbedder, tenant: str, name: str
) -> tuple[EmbeddedFalkorDB, FalkorRunner, Datasources]:
    """A FalkorDB server of the test's own (to stop), its runner (to close) and datasources over it, seeded with a
    small corpus."""
    server = EmbeddedFalkorDB(tmp_path / "graph")
    await server.start()
    runner = FalkorRunner(server.host, server.port, name, timeout_s=2.0)
    ds = Datasources(vectors=edge_vectors, graph=GraphStore(runner), embedder=embedder, chat=None,
                     reranker=LexicalReranker())
    await runner.ensure_schema()
    await seed_corpus(ds, tenant, size=12)
    return server, runner, ds


async def test_retrieve_degrades_while_the_graph_is_down_and_recovers(
    tmp_path: Path, edge_vectors: EdgeVectorStore, embedder: LocalEmbedder, tenant: str
):
    server, runner, ds = await graph_of_its_own(tmp_path, edge_vectors, embedder, tenant, "faults")
    try:
        healthy = (await execute(ds, RETRIEVE, {"q": "Atlas team plan"}, tenant=tenant)).ok()["retrieve"]
        assert healthy["degraded"] == [] and healthy["subgraph"]["nodes"]

        port = server.port
        await server.stop()
        down = await execute(ds, RETRIEVE, {"q": "Atlas team plan"}, tenant=tenant)
        assert down.data is not None
        retrieval = down.data["retrieve"]
        assert retrieval["degraded"] == ["GRAPH_UNAVAILABLE"]
        assert len(retrieval["hits"]) == 5
        assert all(h["scores"]["vector"] is not None and h["scores"]["graph"] is None for h in retrieval["hits"])
        assert retrieval["subgraph"] is None
        assert [(e["path"], e["extensions"]["code"]) for e in down.errors] == [
            (["retrieve", "subgraph"], "GRAPH_UNAVAILABLE")
        ]

        server = EmbeddedFalkorDB(tmp_path / "graph", port=port)
        await server.start()
        again = (await execute(ds, RETRIEVE, {"q": "Atlas team plan"}, tenant=tenant)).ok()["retrieve"]
        assert again["degraded"] == [] and again["subgraph"]["nodes"] == healthy["subgraph"]["nodes"]
    finally:
        await runner.close()
        await server.stop()


async def test_pooled_connections_left_from_before_a_restart_fail_no_call(tmp_path: Path, tenant: str):
    server = EmbeddedFalkorDB(tmp_path / "graph")
    await server.start()
    runner = FalkorRunner(server.host, server.port, "restart", timeout_s=2.0)
    graph = GraphStore(runner)
    try:
        await runner.ensure_schema()
        await asyncio.gather(*(graph.count_nodes(tenant) for _ in range(8)))  # fill the pool with 8 sockets
        port = server.port
        await server.stop()
        server = EmbeddedFalkorDB(tmp_path / "graph", port=port)
        await server.start()
        # every pooled socket now points at the old server; none may surface as GRAPH_UNAVAILABLE
        assert await asyncio.gather(*(graph.count_nodes(tenant) for _ in range(8))) == [0] * 8
    finally:
        await runner.close()
        await server.stop()
