"""Automatic persisted queries (Apollo's protocol) and trusted documents, through the real app over HTTP GET, POST
and WebSocket."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from ragweave.datasources.embeddings import LocalEmbedder
from ragweave.datasources.falkordb_process import EmbeddedFalkorDB
from ragweave.observability.metrics import Metrics
from ragweave.persisted import APQCache, PersistedQueries, TrustedDocuments, sha256_hex
from ragweave.settings import SettingsError
from tests.test_http import LOOPBACK, app_for
from tests.test_metrics import observe, sample

VERSION = "query Version { version }"


def pq(sha: str, version: int = 1) -> dict[str, object]:
    return {"persistedQuery": {"version": version, "sha256Hash": sha}}


def by_get(client: TestClient, sha: str, **params: str):
    return client.get("/graphql", params={"extensions": json.dumps(pq(sha)), **params})


@pytest.fixture
def app_factory(tmp_path: Path, embedder: LocalEmbedder, falkordb_server: EmbeddedFalkorDB):
    def make(store: PersistedQueries | None, metrics: Metrics | None = None) -> TestClient:
        return TestClient(observe(app_for(tmp_path, embedder, falkordb_server.port), metrics, persisted=store),
                          client=LOOPBACK)

    return make


def test_apq_miss_register_then_hash_only_over_post_and_get(app_factory):
    metrics = Metrics()
    with app_factory(PersistedQueries(on_outcome=metrics.observe_persisted), metrics) as client:
        sha = sha256_hex(VERSION)
        miss = client.post("/graphql", json={"extensions": pq(sha)})
        assert miss.status_code == 200 and miss.headers["cache-control"] == "private, no-cache, must-revalidate"
        assert miss.json()["errors"] == [{"message": "PersistedQueryNotFound",
                                          "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"}}]
        registered = client.post("/graphql", json={"query": VERSION, "extensions": pq(sha)})
        assert registered.json()["data"] == {"version": "0.1.0"}
        hit = client.post("/graphql", json={"extensions": pq(sha), "operationName": "Version"})
        assert hit.json()["data"] == {"version": "0.1.0"}
        get = by_get(client, sha, operationName="Version")  # Accept */*: a GET by hash is not a browser
        assert get.status_code == 200 and get.json()["data"] == {"version": "0.1.0"}
    assert sample(metrics, "ragweave_persisted_queries_total", outcome="miss") == 1
    assert sample(metrics, "ragweave_persisted_queries_total", outcome="register") == 1
    assert sample(metrics, "ragweave_persisted_queries_total", outcome="hit") == 2
    assert sample(metrics, "ragweave_graphql_errors_total", code="PERSISTED_QUERY_NOT_FOUND") == 1
    assert sample(metrics, "ragweave_graphql_requests_total", operation="Version", type="query") == 3


def test_hash_mismatch_bad_version_and_invalid_documents_are_refused(app_factory):
    with app_factory(PersistedQueries()) as client:
        mismatch = client.post("/graphql", json={"query": VERSION, "extensions": pq(sha256_hex("{ other }"))})
        assert mismatch.status_code == 400
        assert mismatch.json()["errors"] == [{"message": "provided sha does not match query",
                                              "extensions": {"code": "PERSISTED_QUERY_HASH_MISMATCH"}}]
        version = client.post("/graphql", json={"query": VERSION, "extensions": pq(sha256_hex(VERSION), 2)})
        assert version.status_code == 400 and version.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
        invalid = "{ nope }"
        client.post("/graphql", json={"query": invalid, "extensions": pq(sha256_hex(invalid))})
        later = client.post("/graphql", json={"extensions": pq(sha256_hex(invalid))})
        assert later.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"  # never stored


def test_with_apq_off_a_persisted_query_is_not_supported(app_factory):
    with app_factory(PersistedQueries(apq_size=0)) as client:  # RAGWEAVE_APQ_CACHE_SIZE=0
        response = client.post("/graphql", json={"extensions": pq(sha256_hex(VERSION))})
        assert response.json()["errors"][0] == {"message": "PersistedQueryNotSupported",
                                                "extensions": {"code": "PERSISTED_QUERY_NOT_SUPPORTED"}}
        assert client.post("/graphql", json={"query": VERSION}).json()["data"] == {"version": "0.1.0"}


def manifest(path: Path, *bodies: str) -> Path:
    operations = [{"id": sha256_hex(b), "name": b.split()[1], "type": "query", "body": b} for b in bodies]
    path.write_text(json.dumps({"format": "apollo-persisted-query-manifest", "version": 1, "operations": operations}))
    return path


def test_trusted_documents_accept_listed_operations_only(app_factory, tmp_path: Path):
    metrics = Metrics()
    trusted = TrustedDocuments.load(manifest(tmp_path / "manifest.json", VERSION))
    with app_factory(PersistedQueries(trusted=trusted, on_outcome=metrics.observe_persisted), metrics) as client:
        refused = client.post("/graphql", json={"query": "{ version }"})
        assert refused.status_code == 403
        assert refused.json()["errors"] == [{"message": "The operation body was not found in the persisted query "
                                             "safelist", "extensions": {"code": "QUERY_NOT_IN_SAFELIST"}}]
        listed = client.post("/graphql", json={"query": "query   Version {\n  version # same document\n}"})
        assert listed.json()["data"] == {"version": "0.1.0"}
        assert by_get(client, sha256_hex(VERSION)).json()["data"] == {"version": "0.1.0"}
        unknown = client.post("/graphql", json={"extensions": pq("0" * 64)})
        assert unknown.status_code == 404
        assert unknown.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_IN_LIST"
        hijack = client.post("/graphql", json={"query": "{ version }", "extensions": pq(sha256_hex(VERSION))})
        assert hijack.status_code == 403  # the body runs, so the body must be listed
    assert sample(metrics, "ragweave_persisted_queries_total", outcome="trusted") == 2
    assert sample(metrics, "ragweave_persisted_queries_total", outcome="refused") == 3
    assert sample(metrics, "ragweave_graphql_errors_total", code="QUERY_NOT_IN_SAFELIST") == 2


def test_trusted_documents_apply_over_websocket(app_factory, tmp_path: Path):
    trusted = TrustedDocuments.load(manifest(tmp_path / "manifest.json", VERSION))
    with app_factory(PersistedQueries(trusted=trusted)) as client:
        with client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
            ws.send_json({"type": "connection_init"})
            assert ws.receive_json()["type"] == "connection_ack"
            ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": "{ version }"}})
            error = ws.receive_json()
            assert error["type"] == "error" and error["payload"][0]["extensions"]["code"] == "QUERY_NOT_IN_SAFELIST"
            ws.send_json({"id": "2", "type": "subscribe", "payload": {"extensions": pq(sha256_hex(VERSION))}})
            result = ws.receive_json()
            assert result["type"] == "next" and result["payload"]["data"] == {"version": "0.1.0"}
            assert ws.receive_json() == {"id": "2", "type": "complete"}
        with client.websocket_connect("/graphql", subprotocols=["graphql-ws"]) as ws:
            ws.send_json({"type": "connection_init"})
            assert ws.receive_json()["type"] == "connection_ack"
            ws.send_json({"id": "1", "type": "start", "payload": {"query": "{ version }"}})
            message = ws.receive_json()
            while message["type"] == "ka":
                message = ws.receive_json()
            assert message["type"] == "error" and message["payload"]["extensions"]["code"] == "QUERY_NOT_IN_SAFELIST"


def test_trusted_documents_apply_over_sse(app_factory, tmp_path: Path):
    trusted = TrustedDocuments.load(manifest(tmp_path / "manifest.json", VERSION))
    sse = {"Accept": "text/event-stream"}
    with app_factory(PersistedQueries(trusted=trusted)) as client:
        refused = client.post("/graphql", json={"query": "{ version }"}, headers=sse)
        assert refused.status_code == 403
        assert refused.json()["errors"][0]["extensions"]["code"] == "QUERY_NOT_IN_SAFELIST"
        with client.stream("POST", "/graphql", json={"extensions": pq(sha256_hex(VERSION))}, headers=sse) as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            events = [line for line in stream.iter_lines() if line.startswith("data:")]
        assert json.loads(events[0].removeprefix("data:"))["data"] == {"version": "0.1.0"}


def test_the_apq_cache_is_a_bounded_lru():
    cache = APQCache(max_entries=2, max_chars=10)
    assert cache.put("a", "1234") and cache.put("b", "1234") and not cache.put("b", "1234")
    assert cache.get("a") == "1234"  # now the most recent
    cache.put("c", "12")
    assert cache.get("b") is None and len(cache) == 2
    cache.put("d", "123456789")  # over the character budget: evicts until it fits
    assert cache.get("a") is None and cache.get("c") is None and cache.get("d") == "123456789"
    assert not cache.put("e", "x" * 11)


def test_a_bad_manifest_stops_start_up(tmp_path: Path):
    (tmp_path / "bad.json").write_text(json.dumps({"format": "something-else", "version": 1, "operations": []}))
    with pytest.raises(SettingsError, match="RAGWEAVE_TRUSTED_DOCUMENTS"):
        TrustedDocuments.load(tmp_path / "bad.json")
    with pytest.raises(SettingsError, match="cannot read"):
        TrustedDocuments.load(tmp_path / "missing.json")
