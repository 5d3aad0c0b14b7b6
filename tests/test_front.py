"""`ragweave.front.Front`: GraphQL GETs and POSTs go to the view without the router; everything else through it;
the body size limit on every HTTP request and the admission limit on the GraphQL requests that count."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from starlette.routing import Router
from starlette.testclient import TestClient

from ragweave.admission import Admission
from ragweave.front import Front
from ragweave.limits import BodySizeLimit
from tests.test_http import LOOPBACK, app_for


class Recorder:
    """An ASGI app that answers 204 and remembers what reached it."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    async def __call__(self, scope, receive, send) -> None:
        self.seen.append((scope["type"], scope.get("method", "")))
        if scope["type"] == "http":
            await send({"type": "http.response.start", "status": 204, "headers": []})
            await send({"type": "http.response.body", "body": b""})


def http(method: str, path: str = "/graphql", headers: list[tuple[bytes, bytes]] | None = None) -> dict:
    return {"type": "http", "method": method, "path": path, "headers": headers or [], "query_string": b""}


async def call(front: Front, scope: dict) -> list[dict]:
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    await front(scope, receive, send)
    return sent


def fronted(admission: Admission | None = None, max_bytes: int = 1024) -> tuple[Front, Recorder, Recorder]:
    rest, graphql = Recorder(), Recorder()
    return Front(rest, graphql=graphql, body_limit=BodySizeLimit(max_bytes), admission=admission), rest, graphql


async def test_graphql_gets_and_posts_go_to_the_view_and_the_rest_to_the_router():
    front, rest, graphql = fronted()
    for scope in (http("GET"), http("POST"), http("POST", headers=[(b"accept", b"text/event-stream")])):
        await call(front, scope)
    for scope in (http("PUT"), http("POST", "/metrics"), http("GET", "/graphql/"), {"type": "lifespan"},
                  {"type": "websocket", "path": "/graphql", "headers": []}):
        await call(front, scope)
    assert graphql.seen == [("http", "GET"), ("http", "POST"), ("http", "POST")]
    assert rest.seen == [("http", "PUT"), ("http", "POST"), ("http", "GET"), ("lifespan", ""), ("websocket", "")]


async def test_a_declared_body_over_the_limit_reaches_neither_app():
    front, rest, graphql = fronted(max_bytes=10)
    for path in ("/graphql", "/healthz"):
        sent = await call(front, http("POST", path, [(b"content-length", b"11")]))
        assert sent[0]["status"] == 413 and b"PAYLOAD_TOO_LARGE" in sent[1]["body"]
    assert rest.seen == graphql.seen == []


async def test_the_requests_that_count_hold_a_slot_while_they_run():
    admission = Admission(max_in_flight=1, max_wait_s=0.05, max_queued=1)
    front, rest, graphql = fronted(admission)
    held, release = asyncio.Event(), asyncio.Event()

    async def first_one_waits(scope, receive, send) -> None:
        if not held.is_set():
            held.set()
            await release.wait()
        await graphql(scope, receive, send)

    front.graphql = first_one_waits
    running = asyncio.create_task(call(front, http("POST")))
    await held.wait()
    assert admission.in_flight == 1
    shed = await call(front, http("POST"))
    assert shed[0]["status"] == 503 and b"OVERLOADED" in shed[1]["body"]
    streamed = await call(front, http("POST", headers=[(b"accept", b"text/event-stream")]))  # does not count
    assert streamed[0]["status"] == 204 and graphql.seen == [("http", "POST")]
    assert (await call(front, http("GET", "/healthz")))[0]["status"] == 204 and rest.seen == [("http", "GET")]
    release.set()
    assert (await running)[0]["status"] == 204
    assert admission.in_flight == 0 and not admission.slots.locked()


@pytest.fixture
def client(tmp_path: Path, embedder, falkordb_server):
    with TestClient(app_for(tmp_path, embedder, falkordb_server.port), client=LOOPBACK) as test_client:
        yield test_client


def test_through_the_app_graphql_skips_the_router_and_other_paths_take_it(client: TestClient, monkeypatch):
    routed: list[str] = []
    original = Router.__call__

    async def recording(self, scope, receive, send):
        routed.append(f"{scope.get('method', scope['type'])} {scope['path']}")
        await original(self, scope, receive, send)

    monkeypatch.setattr(Router, "__call__", recording)
    assert client.post("/graphql", json={"query": "{ version }"}).json()["data"]["version"]
    assert client.get("/graphql", params={"query": "{ version }"}).json()["data"]["version"]
    assert routed == []
    assert client.put("/graphql", json={"query": "{ version }"}).status_code == 405
    assert client.get("/healthz").json() == {"ok": True}
    assert routed == ["PUT /graphql", "GET /healthz"]


def test_an_unexpected_failure_in_the_view_is_still_a_500(tmp_path: Path, embedder, falkordb_server, monkeypatch):
    from ragweave.app import GraphQLView

    async def broken(self, request, context=None, root_value=None):
        raise RuntimeError("boom")

    monkeypatch.setattr(GraphQLView, "run", broken)
    app = app_for(tmp_path, embedder, falkordb_server.port)
    with TestClient(app, client=LOOPBACK, raise_server_exceptions=False) as client:
        response = client.post("/graphql", content=json.dumps({"query": "{ version }"}),
                               headers={"content-type": "application/json"})
        assert response.status_code == 500 and response.text == "Internal Server Error"
