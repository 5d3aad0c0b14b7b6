"""The vector store becomes unavailable under the real app (`open_datasources`, HTTP, /readyz).

qdrant-edge (embedded): the data directory is moved away, restored from a copy, or deleted while ragweave runs.
qdrant-client: QDRANT_URL is a closed loopback port, or a listener that accepts and never answers.
Expected: VECTORS_UNAVAILABLE / VECTORS_TIMEOUT on search and retrieve, ingest reports the store failure and
writes nothing it cannot keep, /readyz is 503 naming `vectors`, every request ends within a bound, and recovery
needs no restart when the directory comes back.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from ragweave.app import create_app
from ragweave.datasources.falkordb_process import EmbeddedFalkorDB
from ragweave.settings import Settings

LOOPBACK = ("127.0.0.1", 50000)
BOUND_S = 3.0
QUERY = """query ($q: String!) {
  search(query: $q, topK: 3) { chunk { id } }
}"""
RETRIEVE = """query ($q: String!) {
  retrieve(query: $q, topK: 3, maxHops: 2) { hits { chunk { id } } subgraph { nodes { id } } degraded }
}"""
INGEST = """mutation ($d: [DocumentInput!]!) { ingest(documents: $d) {
  chunks failures { documentId stage message } skipped } }"""
DOC = {"id": "memo.md", "text": "Mara Quist leads the Atlas Team. The Atlas Team builds Beacon Console."}
LATER = {"id": "later.md", "text": "Zora Quill works at Ferry Works."}


@pytest.fixture
def app_settings(tmp_path: Path, falkordb_server: EmbeddedFalkorDB) -> Settings:
    return Settings(
        data_dir=tmp_path, falkordb_url=falkordb_server.url, graph_name=f"vectors_{uuid.uuid4().hex[:8]}",
        dev_mode=True, debug_extensions=True, tenant=f"t-{uuid.uuid4().hex[:8]}", qdrant_timeout_s=1.0,
    )


@pytest.fixture
def client(app_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(app_settings), client=LOOPBACK) as test_client:
        yield test_client


def gql(client: TestClient, query: str, variables: dict[str, Any]) -> tuple[dict[str, Any], float]:
    started = time.monotonic()
    body = client.post("/graphql", json={"query": query, "variables": variables}).json()
    return body, time.monotonic() - started


def codes(body: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors", [])]


def assert_vectors_fail(client: TestClient, code: str, at_least_s: float = 0.0) -> None:
    for query in (QUERY, RETRIEVE):
        body, elapsed = gql(client, query, {"q": "Who leads the Atlas Team?"})
        assert codes(body) == [code] and body["data"] is None, body
        assert at_least_s <= elapsed < BOUND_S, elapsed
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.json()["failing"] == ["vectors"], ready.json()


def assert_vectors_work(client: TestClient) -> None:
    body, _ = gql(client, QUERY, {"q": "Who leads the Atlas Team?"})
    assert body["data"]["search"][0]["chunk"]["id"] == "memo.md#0", body
    body, _ = gql(client, RETRIEVE, {"q": "Who leads the Atlas Team?"})
    assert body["data"]["retrieve"]["degraded"] == [] and body["data"]["retrieve"]["subgraph"]["nodes"], body
    assert client.get("/readyz").status_code == 200


def ingest(client: TestClient, doc: dict[str, str]) -> dict[str, Any]:
    body, elapsed = gql(client, INGEST, {"d": [doc]})
    assert elapsed < BOUND_S, elapsed
    return body["data"]["ingest"]


def test_edge_directory_moved_away_and_restored_from_a_copy(client: TestClient, app_settings: Settings):
    vectors, away = app_settings.data_dir / "vectors", app_settings.data_dir / "vectors-away"
    assert ingest(client, DOC)["failures"] == []
    assert_vectors_work(client)

    os.rename(vectors, away)  # an unmounted volume, an operator's mv
    assert_vectors_fail(client, "VECTORS_UNAVAILABLE")
    refused = ingest(client, LATER)
    assert [(f["documentId"], f["stage"]) for f in refused["failures"]] == [("later.md", "store")]
    os.rename(away, vectors)  # the same directory comes back
    assert_vectors_work(client)
    assert ingest(client, LATER) == {"chunks": 1, "failures": [], "skipped": 0}

    os.rename(vectors, away)
    assert_vectors_fail(client, "VECTORS_UNAVAILABLE")
    shutil.copytree(away, vectors)  # restored from a copy: other inodes, reopened
    assert_vectors_work(client)
    body, _ = gql(client, QUERY, {"q": "Who works at Ferry Works?"})
    assert body["data"]["search"][0]["chunk"]["id"] == "later.md#0"


def test_edge_directory_deleted_refuses_writes_instead_of_losing_them(client: TestClient, app_settings: Settings):
    assert ingest(client, DOC)["failures"] == []
    shutil.rmtree(app_settings.data_dir / "vectors")
    assert_vectors_fail(client, "VECTORS_UNAVAILABLE")
    refused = ingest(client, LATER)  # before the fix: "ingested" into deleted files, lost on the next start
    assert [(f["documentId"], f["stage"]) for f in refused["failures"]] == [("later.md", "store")]
    assert not (app_settings.data_dir / "vectors").exists() or not any((app_settings.data_dir / "vectors").iterdir())
    assert_vectors_fail(client, "VECTORS_UNAVAILABLE")  # stays unavailable: nothing silently recreated


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.filterwarnings("ignore:Failed to obtain server version")
def test_qdrant_url_on_a_closed_port(app_settings: Settings):
    settings = dataclasses.replace(app_settings, qdrant_url=f"http://127.0.0.1:{closed_port()}")
    with TestClient(create_app(settings), client=LOOPBACK) as client:
        assert_vectors_fail(client, "VECTORS_UNAVAILABLE")
        refused = ingest(client, DOC)
        assert [(f["documentId"], f["stage"]) for f in refused["failures"]] == [("memo.md", "store")]


@pytest.mark.filterwarnings("ignore:Failed to obtain server version")
def test_qdrant_url_that_accepts_and_never_answers_times_out(app_settings: Settings):
    """A sub-second RAGWEAVE_QDRANT_TIMEOUT_S waits (qdrant-client rounds up to whole seconds) instead of 0 s."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(64)
        settings = dataclasses.replace(
            app_settings, qdrant_url=f"http://127.0.0.1:{silent.getsockname()[1]}", qdrant_timeout_s=0.5
        )
        with TestClient(create_app(settings), client=LOOPBACK) as client:
            assert_vectors_fail(client, "VECTORS_TIMEOUT", at_least_s=0.45)
