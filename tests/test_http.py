"""The real ASGI app through Starlette's TestClient: lifespan, /healthz, /readyz, GraphQL over HTTP and WebSocket."""

from __future__ import annotations

import os
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from ragweave.app import create_app
from ragweave.datasources.chat import OpenAIChat, openai_client
from ragweave.datasources.embeddings import LocalEmbedder
from ragweave.datasources.falkordb_process import EmbeddedFalkorDB
from ragweave.datasources.graph import GraphStore
from ragweave.datasources.graph_falkordb import FalkorRunner
from ragweave.datasources.lifecycle import Datasources
from ragweave.datasources.reranker import LexicalReranker
from ragweave.datasources.vectors_edge import EdgeVectorStore
from ragweave.settings import Settings

LOOPBACK = ("127.0.0.1", 50000)


def app_for(tmp_path: Path, embedder: LocalEmbedder, graph_port: int, llm_url: str | None = None, **settings: object):
    """An app whose datasources open inside its own lifespan (TestClient runs it on another event loop)."""

    @asynccontextmanager
    async def open_ds(_: Settings) -> AsyncIterator[Datasources]:
        client = openai_client(llm_url, "t", timeout=10, max_retries=0) if llm_url else None
        vectors = EdgeVectorStore(tmp_path / "vectors", embedder.dim)
        graph = GraphStore(FalkorRunner("127.0.0.1", graph_port, f"http_{tmp_path.name}", timeout_s=2.0))
        await graph.runner.ensure_schema()
        yield Datasources(
            vectors=vectors,
            graph=graph,
            embedder=embedder,
            chat=OpenAIChat(client, "gpt-4o-mini", "test-server") if client else None,
            reranker=LexicalReranker(),
            names={"vectors": vectors.name, "graph": graph.dialect, "llm": "offline"},
        )
        await graph.close()
        await vectors.close()
        if client is not None:
            await client.close()

    defaults = {"debug_extensions": True, "dev_mode": True, "data_dir": tmp_path}
    return create_app(Settings(**{**defaults, **settings}), open_ds=open_ds)


@pytest.fixture
def client(tmp_path: Path, embedder: LocalEmbedder, falkordb_server: EmbeddedFalkorDB):
    with TestClient(app_for(tmp_path, embedder, falkordb_server.port), client=LOOPBACK) as test_client:
        yield test_client


def test_health_endpoints_and_a_query_over_http(client: TestClient):
    assert client.get("/healthz").json() == {"ok": True}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["failing"] == []
    response = client.post("/graphql", json={"query": "{ health { ok backends { name ok } } version }"})
    body = response.json()
    assert body["data"]["health"] == {
        "ok": True,
        "backends": [{"name": "vectors", "ok": True}, {"name": "graph", "ok": True}],
    }
    assert "backendCalls" in body["extensions"] and "total" in body["extensions"]["timings"]


async def test_readyz_names_the_graph_when_its_process_is_killed(tmp_path: Path, embedder: LocalEmbedder):
    server = EmbeddedFalkorDB(tmp_path / "graph")
    await server.start()
    try:
        with TestClient(app_for(tmp_path, embedder, server.port), client=LOOPBACK) as test_client:
            assert test_client.get("/readyz").status_code == 200
            os.kill(server.pid, signal.SIGKILL)
            ready = test_client.get("/readyz")
            assert ready.status_code == 503
            assert ready.json()["failing"] == ["graph"]
            assert str(server.port) not in ready.text and "127.0.0.1" not in ready.text
            response = test_client.post("/graphql", json={"query": "{ entities { edges { cursor } } }"})
            assert response.json()["errors"][0]["extensions"]["code"] == "GRAPH_UNAVAILABLE"
    finally:
        await server.stop()


def test_graphiql_is_served_to_browsers(client: TestClient):
    page = client.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200 and "graphiql" in page.text.lower()


def test_bad_input_is_a_coded_error_not_a_500(client: TestClient):
    response = client.post("/graphql", json={"query": '{ search(query: "x", topK: 500) { score } }'})
    assert response.status_code == 200
    (error,) = response.json()["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT" and "topK" in error["message"]
    malformed = client.post("/graphql", json={"query": "{ search("})
    assert malformed.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"
    missing = client.post("/graphql", json={"query": "query ($q: String!) { search(query: $q) { score } }"})
    assert missing.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    unknown = client.post("/graphql", json={"query": "{ nope }"})
    assert unknown.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


CHAT_STREAM = """
subscription {
  chatStream(input: {messages: [{role: "user", content: "hi"}]}) { __typename ... on ChatFailed { code retryable } }
}"""


def test_chat_stream_over_graphql_transport_ws_reports_missing_llm(client: TestClient):
    with client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        ws.send_json({"type": "connection_init"})
        assert ws.receive_json()["type"] == "connection_ack"
        ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": CHAT_STREAM}})
        event = ws.receive_json()
        assert event["payload"]["data"]["chatStream"] == {
            "__typename": "ChatFailed",
            "code": "LLM_NOT_CONFIGURED",
            "retryable": False,
        }
        assert ws.receive_json() == {"id": "1", "type": "complete"}


def test_chat_stream_over_legacy_graphql_ws(client: TestClient):
    with client.websocket_connect("/graphql", subprotocols=["graphql-ws"]) as ws:
        ws.send_json({"type": "connection_init"})
        assert ws.receive_json()["type"] == "connection_ack"
        ws.send_json({"id": "1", "type": "start", "payload": {"query": CHAT_STREAM}})
        message = ws.receive_json()
        while message["type"] == "ka":
            message = ws.receive_json()
        assert message["payload"]["data"]["chatStream"]["code"] == "LLM_NOT_CONFIGURED"
