"""Fuzzing: operations generated from the schema, and malformed or oversized HTTP bodies.

Expected: no INTERNAL_SERVER_ERROR, no 5xx, and the server healthy afterwards. Bounded: a fixed number of
examples with a fixed seed, so a run takes the same time and finds the same things.
"""

from __future__ import annotations

from pathlib import Path

import hypothesis_graphql
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from tests.graphql import execute, schema
from tests.test_http import LOOPBACK, app_for

SDL = str(schema())
FIELDS = ["search", "retrieve", "chunk", "document", "entity", "entities", "embed", "rerank", "graphQuery", "health"]
MUTATIONS = ["extractGraph", "upsertGraph", "deleteDocument", "ingest"]


def internal_errors(response) -> list[dict]:
    return [e for e in response.errors if e.get("extensions", {}).get("code") in (None, "INTERNAL_SERVER_ERROR")]


async def test_generated_queries_and_mutations_never_fail_internally(datasources, tenant):
    @seed(20261129)
    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(st.data())
    def generate(data: st.DataObject) -> None:
        generated.append(data.draw(hypothesis_graphql.from_schema(SDL, fields=FIELDS + MUTATIONS)))

    generated: list[str] = []
    generate()
    for query in generated:
        response = await execute(datasources, query, tenant=tenant, role="admin")
        assert internal_errors(response) == [], (query, response.errors)
    assert (await execute(datasources, "{ health { ok } }", tenant=tenant)).ok()["health"]["ok"]


def test_malformed_and_oversized_http_bodies_are_client_errors(tmp_path: Path, embedder, falkordb_server):
    bodies = [b"", b"{", b"null", b"[]", b'{"query": 5}', b'{"query": "{ version }", "variables": "x"}',
              b"\xff\xfe", b'{"query": "' + b"{" * 5000 + b'"}', b'{"query": "{ search(query: \\"x\\") { score } }",'
              b' "variables": {"a": ' + b"[" * 2000 + b"]" * 2000 + b"}}"]
    with TestClient(app_for(tmp_path, embedder, falkordb_server.port, max_body_bytes=64 * 1024),
                    client=LOOPBACK) as client:
        for body in [*bodies, b'{"query": "' + b"x" * 100_000 + b'"}']:
            response = client.post("/graphql", content=body, headers={"content-type": "application/json"})
            assert response.status_code < 500, (body[:60], response.status_code, response.text[:200])
            if response.headers.get("content-type", "").startswith("application/json") and response.status_code == 200:
                for error in response.json().get("errors", []):
                    assert error.get("extensions", {}).get("code") != "INTERNAL_SERVER_ERROR", error
        assert client.get("/readyz").status_code == 200
