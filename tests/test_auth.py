"""API keys, roles, tenants and request limits, through the real ASGI app."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from ragweave.auth import KeyStore
from ragweave.errors import Unauthenticated
from tests.servers.app_server import serving
from tests.test_http import LOOPBACK, app_for


def test_keys_are_stored_as_digests_verified_revoked_and_reloaded(tmp_path: Path):
    store = KeyStore(tmp_path / "keys.json")
    entry, secret = store.create("acme", "writer")
    assert secret not in (tmp_path / "keys.json").read_text()
    assert store.verify(secret).tenant == "acme" and store.verify(secret).role == "writer"
    other_process_view = KeyStore(tmp_path / "keys.json")
    _, second = other_process_view.create("beta", "reader")
    assert store.verify(second).tenant == "beta"  # picked up without a restart
    for wrong in (secret[:-1] + ("x" if secret[-1] != "x" else "y"), "rw_nope_nope", "garbage", ""):
        with pytest.raises(Unauthenticated):
            store.verify(wrong)
    assert store.verify(secret).tenant == "acme"  # accepted since the file was last read
    assert other_process_view.revoke(entry.id)
    with pytest.raises(Unauthenticated):
        store.verify(secret)
    assert store.verify(second).tenant == "beta"
    (tmp_path / "keys.json").unlink()
    with pytest.raises(Unauthenticated):
        store.verify(second)
    with pytest.raises(ValueError):
        store.create("acme", "root")


@pytest.fixture
def secured(tmp_path: Path, embedder, falkordb_server):
    app = app_for(tmp_path, embedder, falkordb_server.port, dev_mode=False)
    store = KeyStore(tmp_path / "keys.json")
    keys = {role: store.create("acme", role)[1] for role in ("reader", "writer", "admin")}
    keys["other"] = store.create("globex", "admin")[1]
    with TestClient(app, client=LOOPBACK) as client:
        yield client, keys


def gql(client: TestClient, query: str, key: str | None = None, header: str = "Authorization", **variables):
    headers = {} if key is None else {header: f"Bearer {key}" if header == "Authorization" else key}
    return client.post("/graphql", json={"query": query, "variables": variables}, headers=headers).json()


def codes(body: dict) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors", [])]


INGEST = 'mutation { ingest(documents: [{id: "memo.md", text: "Zora Quill leads the Ferry Team."}]) { chunks } }'


def test_roles_decide_what_a_key_may_do(secured):
    client, keys = secured
    assert codes(gql(client, "{ version }")) == ["UNAUTHENTICATED"]
    assert codes(gql(client, "{ version }", "rw_bad_key")) == ["UNAUTHENTICATED"]
    assert gql(client, "{ whoami { tenant role } }", keys["reader"], header="X-API-Key")["data"]["whoami"] == {
        "tenant": "acme",
        "role": "reader",
    }
    assert codes(gql(client, INGEST, keys["reader"])) == ["FORBIDDEN"]
    assert gql(client, INGEST, keys["writer"])["data"]["ingest"]["chunks"] == 1
    graph_query = '{ graphQuery(cypher: "RETURN 1 AS one") }'
    assert codes(gql(client, graph_query, keys["writer"])) == ["FORBIDDEN"]
    assert gql(client, graph_query, keys["admin"])["data"]["graphQuery"] == [{"one": 1}]


def test_tenants_never_see_each_other(secured):
    client, keys = secured
    assert gql(client, INGEST, keys["writer"])["data"]["ingest"]["chunks"] == 1
    probes = {
        "search": '{ search(query: "Ferry Team", topK: 5) { chunk { id } } }',
        "retrieve": '{ retrieve(query: "Ferry Team", topK: 5) { hits { chunk { id } } subgraph { nodes { id } } } }',
        "chunk": '{ chunk(id: "memo.md#0") { id } }',
        "document": '{ document(id: "memo.md") { id } }',
        "entity": '{ entity(id: "person:zora-quill") { id } }',
        "entities": "{ entities { edges { node { id } } } }",
    }
    mine = {name: gql(client, query, keys["reader"])["data"] for name, query in probes.items()}
    assert mine["search"]["search"] and mine["chunk"]["chunk"] and mine["entity"]["entity"]
    theirs = {name: gql(client, query, keys["other"])["data"] for name, query in probes.items()}
    assert theirs == {
        "search": {"search": []},
        "retrieve": {"retrieve": {"hits": [], "subgraph": {"nodes": []}}},
        "chunk": {"chunk": None},
        "document": {"document": None},
        "entity": {"entity": None},
        "entities": {"entities": {"edges": []}},
    }


def test_dev_mode_is_anonymous_admin_on_loopback_only(tmp_path: Path, embedder, falkordb_server):
    app = app_for(tmp_path, embedder, falkordb_server.port, dev_mode=True)
    with TestClient(app, client=LOOPBACK) as local:
        assert gql(local, "{ whoami { tenant role } }")["data"]["whoami"] == {"tenant": "default", "role": "admin"}
    with TestClient(app, client=("203.0.113.7", 40000)) as remote:
        assert codes(gql(remote, "{ version }")) == ["UNAUTHENTICATED"]


def test_websocket_connections_authenticate_in_connection_init(secured):
    client, keys = secured
    with client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        ws.send_json({"type": "connection_init", "payload": {"Authorization": f"Bearer {keys['reader']}"}})
        assert ws.receive_json()["type"] == "connection_ack"
        ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": "{ whoami { tenant role } }"}})
        assert ws.receive_json()["payload"]["data"]["whoami"] == {"tenant": "acme", "role": "reader"}
    with client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        ws.send_json({"type": "connection_init", "payload": {}})
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
        assert closed.value.code == 4403


def test_oversized_bodies_are_refused_before_parsing(tmp_path: Path, embedder, falkordb_server):
    app = app_for(tmp_path, embedder, falkordb_server.port, max_body_bytes=2048)
    with TestClient(app, client=LOOPBACK) as client:
        response = client.post(
            "/graphql",
            content=json.dumps({"query": "{ version }", "pad": "x" * 5000}),
            headers={"content-type": "application/json"},
        )
        assert response.status_code == 413
        assert response.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
        assert client.post("/graphql", json={"query": "{ version }"}).status_code == 200


def test_keys_cli_prints_the_secret_alone_on_the_last_line(tmp_path: Path):
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "ragweave", "keys", "--data-dir", str(tmp_path), *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    created = run("create", "--tenant", "acme", "--role", "writer")
    assert created.returncode == 0
    secret = created.stdout.strip().splitlines()[-1]
    assert KeyStore(tmp_path / "keys.json").verify(secret).role == "writer"
    key_id = secret.split("_")[1]
    assert f"{key_id}\tacme\twriter\tactive" in run("list").stdout
    assert run("revoke", key_id).returncode == 0 and "revoked" in run("list").stdout
    assert run("create", "--tenant", "acme", "--role", "root").returncode != 0


def test_a_body_is_never_read_past_the_limit_through_uvicorn(tmp_path: Path, embedder, falkordb_server):
    """A body with a Content-Length within the limit is not counted again (uvicorn reads no more than it declares:
    bytes past it are the next request); a chunked one is counted and refused past the limit."""
    app = app_for(tmp_path, embedder, falkordb_server.port, max_body_bytes=2048)
    body = json.dumps({"query": "{ version }"}).encode()
    with serving(app) as url:
        host, port = url.removeprefix("http://").split(":")
        request = (b"POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                   b"Content-Length: %d\r\n\r\n" % len(body) + body)
        oversized = json.dumps({"query": "{ version }", "pad": "x" * 5000}).encode()
        with socket.create_connection((host, int(port)), timeout=10) as connection:
            # one declared body, then bytes past it: they are the next request, refused on its own
            connection.sendall(request + request.replace(b"%d\r\n\r\n" % len(body) + body,
                                                         b"%d\r\n\r\n" % len(oversized) + oversized))
            answer = b""
            while answer.count(b"HTTP/1.1 ") < 2 or not answer.endswith(b"}"):
                chunk = connection.recv(65536)
                assert chunk, answer
                answer += chunk
        first, second = answer.split(b"HTTP/1.1 ")[1:]
        assert first.startswith(b"200") and b'{"data":{"version":' in first, answer
        assert second.startswith(b"413") and b"PAYLOAD_TOO_LARGE" in second, answer
        chunked = httpx.post(f"{url}/graphql", headers={"content-type": "application/json"},
                             content=iter([body[:-1], b' ,"pad": "' + b"x" * 5000 + b'"}']))
        assert chunked.status_code == 413 and chunked.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
        small = httpx.post(f"{url}/graphql", headers={"content-type": "application/json"}, content=iter([body]))
        assert small.status_code == 200 and small.json()["data"]["version"]
