"""The view's path for plain JSON POSTs (`ragweave.plain_post`) answers exactly what Strawberry's `run` answers.

Each request goes once through the app as it is and once with the plain path switched off (Strawberry's `run` for
everything); status, headers and body must be equal, the answer's timings and request ids aside.
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import pytest
from starlette.routing import Route
from starlette.testclient import TestClient
from strawberry.asgi import GraphQL
from strawberry.http.async_base_view import AsyncBaseHTTPView

from ragweave.datasources.embeddings import LocalEmbedder
from ragweave.datasources.falkordb_process import EmbeddedFalkorDB
from ragweave.persisted import sha256_hex
from ragweave.plain_post import PlainPostMixin
from tests.test_http import LOOPBACK, app_for

SEARCH = "query S($q: String!, $k: Int!) { search(query: $q, topK: $k) { score chunk { id text } } }"
VERSION = "{ version }"
JSON = {"content-type": "application/json"}
INGEST = """mutation { ingest(documents: [{id: "memo.md", text: "Zora Quill leads the Ferry Team on the contract."},
                                    {id: "log.md", text: "The contract names Ada Vance as the owner."}]) { chunks } }"""


def _persisted(query: str) -> dict[str, object]:
    return {"persistedQuery": {"version": 1, "sha256Hash": sha256_hex(query)}}


REQUESTS: list[tuple[str, dict[str, str], bytes]] = [
    ("a query with variables", JSON, json.dumps({"query": SEARCH, "variables": {"q": "contract", "k": 3}}).encode()),
    ("charset parameter", {"content-type": "application/json; charset=utf-8"},
     json.dumps({"query": VERSION}).encode()),
    ("media type in capitals", {"content-type": "Application/JSON"}, json.dumps({"query": VERSION}).encode()),
    ("a JSON-like media type", {"content-type": "application/json-seq"}, json.dumps({"query": VERSION}).encode()),
    ("a field error", JSON, json.dumps({"query": '{ search(query: "x", topK: 500) { score } }'}).encode()),
    ("a syntax error", JSON, json.dumps({"query": "{ search("}).encode()),
    ("a validation error", JSON, json.dumps({"query": "{ nope }"}).encode()),
    ("a variable of the wrong type", JSON,
     json.dumps({"query": SEARCH, "variables": {"q": "x", "k": "many"}}).encode()),
    ("an unknown operation name", JSON, json.dumps({"query": VERSION, "operationName": "Nope"}).encode()),
    ("no query", JSON, b"{}"),
    ("null members", JSON, json.dumps({"query": VERSION, "variables": None, "extensions": None}).encode()),
    ("a subscription over POST", JSON,
     json.dumps({"query": 'subscription { chatStream(input: {messages: []}) { __typename } }'}).encode()),
    ("a mutation", JSON, json.dumps({"query": 'mutation { deleteDocument(id: "no-such-doc") }'}).encode()),
    ("over the cost budget", JSON, json.dumps({"query": '{ retrieve(query: "x", topK: 100, maxHops: 3) '
                                                         "{ hits { score } } }"}).encode()),
    ("a wrong API key", {**JSON, "authorization": "Bearer rw_nope"}, json.dumps({"query": VERSION}).encode()),
    ("an unknown persisted hash", JSON, json.dumps({"extensions": _persisted("{ health { ok } }")}).encode()),
    ("a persisted query registered", JSON,
     json.dumps({"query": VERSION, "extensions": _persisted(VERSION)}).encode()),
    ("a hash that does not match", JSON,
     json.dumps({"query": VERSION, "extensions": _persisted("{ other }")}).encode()),
    ("malformed JSON", JSON, b'{"query": '),
    ("a JSON string", JSON, b'"{ version }"'),
    ("a batch", JSON, json.dumps([{"query": VERSION}, {"query": VERSION}]).encode()),
    ("a query that is not a string", JSON, b'{"query": 5}'),
    ("variables that are not an object", JSON, b'{"query": "{ version }", "variables": [1]}'),
    ("extensions that are not an object", JSON, b'{"query": "{ version }", "extensions": "x"}'),
    ("text/plain", {"content-type": "text/plain"}, json.dumps({"query": VERSION}).encode()),
    ("no content type", {}, json.dumps({"query": VERSION}).encode()),
    ("a stream asked for", {**JSON, "accept": "text/event-stream"}, json.dumps({"query": VERSION}).encode()),
]


def _comparable(response) -> tuple[int, dict[str, str], object]:
    headers = {k: v for k, v in response.headers.items() if k not in ("content-length", "date")}
    text = re.sub(r'"requestId": ?"[0-9a-f]+"', '"requestId": "-"', response.text)
    text = re.sub(r',"timings":\{[^}]*\}', "", text)
    try:
        return response.status_code, headers, json.loads(text)
    except ValueError:
        return response.status_code, headers, text


@pytest.fixture
def client(tmp_path: Path, embedder: LocalEmbedder, falkordb_server: EmbeddedFalkorDB):
    app = app_for(tmp_path, embedder, falkordb_server.port, max_cost=500)
    with TestClient(app, client=LOOPBACK) as test_client:
        ingested = test_client.post("/graphql", json={"query": INGEST})
        assert ingested.json()["data"]["ingest"]["chunks"] == 2
        yield test_client


@pytest.mark.parametrize(("case", "headers", "body"), REQUESTS, ids=[r[0] for r in REQUESTS])
def test_the_same_answer_as_strawberrys_run(client: TestClient, monkeypatch, case, headers, body):
    plain = _comparable(client.post("/graphql", content=body, headers=headers))
    with monkeypatch.context() as patch:
        patch.setattr(PlainPostMixin, "_plain_post", lambda self, request: False)
        reference = _comparable(client.post("/graphql", content=body, headers=headers))
    assert plain == reference


def test_plain_posts_skip_strawberrys_run_and_the_others_take_it(client: TestClient, monkeypatch):
    taken: list[str] = []
    strawberry_run = AsyncBaseHTTPView.run

    async def run(self, request, context=None, root_value=None):
        taken.append(request.method)
        return await strawberry_run(self, request)

    monkeypatch.setattr(AsyncBaseHTTPView, "run", run)
    answer = client.post("/graphql", json={"query": SEARCH, "variables": {"q": "contract", "k": 2}})
    assert len(answer.json()["data"]["search"]) == 2 and taken == []
    assert client.post("/graphql", content=b"[]", headers=JSON).status_code == 400 and taken == ["POST"]
    assert client.get("/graphql", params={"query": VERSION}).json()["data"] == {"version": "0.1.0"}
    assert taken == ["POST", "GET"]


ACCEPTS = ["", "application/json", "*/*", "text/event-stream", "TEXT/EVENT-STREAM", "multipart/mixed",
           'multipart/mixed;subscriptionSpec="1.0"', "multipart/mixed; boundary=graphql", "multipart/mixed; boundary=x",
           "application/json, text/event-stream;q=0.5", "application/graphql-response+json, application/json"]


def test_the_stream_check_kept_per_accept_header_is_strawberrys(client: TestClient):
    view = next(r.app for r in client.app.routes if isinstance(r, Route) and r.path == "/graphql")
    for _ in range(2):  # worked out, then kept
        for accept in ACCEPTS:
            theirs = view._get_stream_transport_from_headers({"accept": accept}) is not None
            assert view._streams(accept) == theirs, accept
    assert any(view._streams(accept) for accept in ACCEPTS) and not view._streams("application/json")
    for number in range(200):
        view._streams(f"application/x-{number}")
    assert len(view._streaming_accepts) <= 64


def test_responses_are_built_as_strawberrys_create_response_builds_them(client: TestClient):
    view = next(r.app for r in client.app.routes if isinstance(r, Route) and r.path == "/graphql")
    bodies = [{"data": {"search": [{"score": 0.5, "chunk": {"id": "é", "text": "naïve ✓"}}]}},
              {"data": {"big": 2**70}},  # orjson refuses it: the standard library encodes it
              {"data": None, "errors": [{"message": "gone", "extensions": {"code": "NOT_FOUND"}}]}]
    for body in bodies:
        for status, headers, background in ((None, {}, None), (404, {"cache-control": "no-store"}, object())):
            subs = []  # ragweave's sub-response and Strawberry's, as they come and as an operation changes them
            for sub in (asyncio.run(view.get_sub_response(None)), asyncio.run(GraphQL.get_sub_response(view, None))):
                assert (sub.status_code, sub.headers.raw, sub.background) == (None, [], None)
                sub.status_code, sub.background = status, background
                sub.headers.update(headers)
                subs.append(sub)
            ours, theirs = view.create_response(body, subs[0]), GraphQL.create_response(view, body, subs[1])
            assert (ours.status_code, ours.headers.raw, ours.body, ours.background) == (
                theirs.status_code, theirs.headers.raw, theirs.body, theirs.background)
