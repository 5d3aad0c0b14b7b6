"""The real Neo4j 5 test server (tests/servers/neo4j_server.py) starts, answers Cypher over Bolt and stops."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import neo4j
import pytest

from tests.servers.neo4j_server import Neo4jServer


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0):
            return True
    except OSError:
        return False


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_neo4j_server_answers_cypher_and_stops(tmp_path: Path) -> None:
    server = Neo4jServer()
    server.start(tmp_path / "neo4j")
    port, pid = server.port, server.pid
    try:
        assert server.uri == f"bolt://127.0.0.1:{port}"
        assert _port_open(port)
        with neo4j.GraphDatabase.driver(server.uri, auth=None) as driver:
            records, _, _ = driver.execute_query("CREATE (n:T {x: 1}) RETURN n.x AS x")
            assert [r["x"] for r in records] == [1]
            records, _, _ = driver.execute_query("MATCH (n:T) RETURN n.x AS x")
            assert [r["x"] for r in records] == [1]

            rows = [{"id": f"e{i}", "next": f"e{i + 1}"} for i in range(5)]
            driver.execute_query(
                "UNWIND $rows AS row "
                "MERGE (a:E {id: row.id}) "
                "MERGE (b:E {id: row.next}) "
                "MERGE (a)-[:NEXT]->(b)",
                rows=rows,
            )
            # Merging the same batch again must not duplicate anything.
            driver.execute_query(
                "UNWIND $rows AS row MERGE (a:E {id: row.id}) MERGE (b:E {id: row.next}) "
                "MERGE (a)-[:NEXT]->(b)",
                rows=rows,
            )
            records, _, _ = driver.execute_query("MATCH (e:E) RETURN count(e) AS n")
            assert records[0]["n"] == 6
            records, _, _ = driver.execute_query("MATCH (:E)-[r:NEXT]->(:E) RETURN count(r) AS n")
            assert records[0]["n"] == 5

            records, _, _ = driver.execute_query(
                "MATCH (s:E {id: $id})-[*1..2]-(m:E) RETURN DISTINCT m.id AS id ORDER BY id", id="e2"
            )
            assert [r["id"] for r in records] == ["e0", "e1", "e3", "e4"]
    finally:
        code = server.stop()
    assert code == 0, f"launcher exit code {code}; see {server.log_path}"
    assert not server.running
    assert not _pid_alive(pid)
    assert not _port_open(port)
    assert "NEO4J_READY" in server.log_path.read_text()


def test_neo4j_server_data_survives_restart(tmp_path: Path) -> None:
    data_dir = tmp_path / "neo4j"
    with Neo4jServer().start(data_dir) as server:
        with neo4j.GraphDatabase.driver(server.uri, auth=None) as driver:
            driver.execute_query("CREATE (:Keep {name: 'kept', n: 42})")
    assert server.returncode == 0

    with Neo4jServer().start(data_dir) as server:
        with neo4j.GraphDatabase.driver(server.uri, auth=None) as driver:
            records, _, _ = driver.execute_query("MATCH (k:Keep) RETURN k.name AS name, k.n AS n")
    assert [(r["name"], r["n"]) for r in records] == [("kept", 42)]


def test_neo4j_server_context_requires_start() -> None:
    with pytest.raises(RuntimeError, match="start"), Neo4jServer():
        pass
