"""The admission limit (ragweave/admission.py) through a real uvicorn on loopback; chats wait in the LLM test server."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import websockets

from ragweave.admission import counted
from tests.servers.app_server import serving
from tests.servers.openai_server import OpenAITestServer, status
from tests.test_http import app_for

CHAT = {"query": 'mutation { chat(input: {messages: [{role: "user", content: "hi"}]}) { content } }'}
TYPENAME = {"query": "{ __typename }"}
STREAM = 'subscription { chatStream(input: {messages: [{role: "user", content: "hi"}]}) { __typename } }'


@pytest.fixture
def llm() -> Iterator[OpenAITestServer]:
    with OpenAITestServer() as server:
        yield server


@pytest.fixture
def serve(tmp_path: Path, embedder, falkordb_server, llm: OpenAITestServer):
    """serve(**settings): the app with these settings (dev mode, chat on `llm`), served on loopback."""

    @contextmanager
    def start(**settings: object) -> Iterator[str]:
        with serving(app_for(tmp_path, embedder, falkordb_server.port, llm_url=llm.base_url, **settings)) as url:
            yield url

    return start


async def gauges(client: httpx.AsyncClient) -> dict[str, float]:
    text = (await client.get("/metrics")).text
    return {line.split()[0]: float(line.split()[1]) for line in text.splitlines()
            if line.startswith(("ragweave_admission_in_flight ", "ragweave_admission_queued "))}


async def hold(client: httpx.AsyncClient, llm: OpenAITestServer, count: int, latency: float,
               within: float = 5.0) -> list[asyncio.Task[httpx.Response]]:
    """`count` chats that each hold a slot for `latency` s, returned once the LLM server has received them all."""
    llm.latency = latency
    seen = len(llm.requests)
    held = [asyncio.create_task(client.post("/graphql", json=CHAT)) for _ in range(count)]
    await llm.wait_for_requests(seen + count, within=within)
    return held


def assert_overloaded(response: httpx.Response, retry_after: str = "1") -> None:
    assert response.status_code == 503
    assert response.headers["retry-after"] == retry_after
    error = response.json()["errors"][0]
    assert error["extensions"] == {"code": "OVERLOADED", "retryAfter": int(retry_after)}


async def test_admits_n_at_once_queues_the_next_in_order_and_sheds_after_the_wait(serve, llm):
    with serve(max_in_flight=3, admission_wait_s=1.0, max_queued=10) as url:
        async with httpx.AsyncClient(base_url=url, timeout=10) as client:
            # given 3 chats held 0.6 s upstream and a 4th behind them
            held = await hold(client, llm, 3, latency=0.6)
            fourth = asyncio.create_task(client.post("/graphql", json=CHAT))
            await asyncio.sleep(0.2)

            # then the 4th waits in the queue, not upstream
            assert len(llm.requests) == 3
            assert await gauges(client) == {"ragweave_admission_in_flight": 3, "ragweave_admission_queued": 1}
            # and it runs once a slot is free, within its wait bound
            responses = await asyncio.gather(*held, fourth)
            assert [r.status_code for r in responses] == [200] * 4
            assert all("errors" not in r.json() for r in responses)
            assert llm.requests[3].received_at >= max(r.received_at for r in llm.requests[:3]) + 0.5

            # when the slots stay held longer than the wait bound
            held = await hold(client, llm, 3, latency=2.0)
            started = time.monotonic()
            refused = await client.post("/graphql", json=TYPENAME)

            # then the next request is refused after waiting that long, and never executes
            assert 0.9 <= time.monotonic() - started < 1.9
            assert_overloaded(refused)
            assert [r.status_code for r in await asyncio.gather(*held)] == [200] * 3
            assert len(llm.requests) == 7
            metrics = (await client.get("/metrics")).text
            assert 'ragweave_admission_shed_total{reason="wait"} 1.0' in metrics
            assert 'ragweave_graphql_errors_total{code="OVERLOADED"} 1.0' in metrics


async def test_a_full_queue_refuses_at_once(serve, llm):
    with serve(max_in_flight=1, admission_wait_s=5.0, max_queued=0) as url:
        async with httpx.AsyncClient(base_url=url, timeout=10) as client:
            [held] = await hold(client, llm, 1, latency=1.0)
            started = time.monotonic()
            refused = await client.post("/graphql", json=TYPENAME)
            assert time.monotonic() - started < 0.5
            assert_overloaded(refused, retry_after="5")
            assert (await held).status_code == 200
            assert 'ragweave_admission_shed_total{reason="queue_full"} 1.0' in (await client.get("/metrics")).text


async def test_health_metrics_graphiql_and_subscriptions_pass_while_every_slot_is_taken(serve, llm):
    with serve(max_in_flight=1, admission_wait_s=0.5, max_queued=0) as url:
        async with httpx.AsyncClient(base_url=url, timeout=10) as client:
            # given the only slot held by a chat, so that any counted request is refused at once
            [held] = await hold(client, llm, 1, latency=2.0)
            assert_overloaded(await client.post("/graphql", json=TYPENAME))

            # then the other endpoints answer
            assert (await client.get("/healthz")).status_code == 200
            assert (await client.get("/readyz")).status_code == 200
            assert (await client.get("/metrics")).status_code == 200
            assert (await client.get("/graphql", headers={"Accept": "text/html"})).status_code == 200
            # and subscriptions start, over SSE and over a WebSocket (their upstream requests wait 2 s too)
            async with client.stream("POST", "/graphql", json={"query": STREAM},
                                     headers={"Accept": "text/event-stream"}) as response:
                assert response.status_code == 200
                assert response.headers["content-type"].startswith("text/event-stream")
                await llm.wait_for_requests(2, within=5)  # the subscription is running: it called upstream
            async with websockets.connect(url.replace("http", "ws", 1) + "/graphql",
                                          subprotocols=["graphql-transport-ws"]) as ws:
                await ws.send(json.dumps({"type": "connection_init"}))
                assert json.loads(await ws.recv())["type"] == "connection_ack"
                await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": STREAM}}))
                await llm.wait_for_requests(3, within=5)
            assert await gauges(client) == {"ragweave_admission_in_flight": 1, "ragweave_admission_queued": 0}
            assert (await held).status_code == 200


async def test_failed_refused_and_abandoned_requests_give_their_slots_back(serve, llm):
    with serve(max_in_flight=2, admission_wait_s=0.3, max_queued=3) as url:
        async with httpx.AsyncClient(base_url=url, timeout=10) as client:
            # given requests whose upstream fails (no retries), bodies that are not JSON, and some shed
            llm.script(*(status(500) for _ in range(8)), endpoint="chat")
            failed = await asyncio.gather(*(client.post("/graphql", json=CHAT) for _ in range(8)),
                                          *(client.post("/graphql", content=b"{nope") for _ in range(4)))
            assert {r.status_code for r in failed} <= {200, 400, 503}
            assert any(r.status_code == 200 and r.json()["errors"] for r in failed)
            # and clients that leave before their answer (the server finishes those requests on its own)
            llm.latency = 0.2
            async with httpx.AsyncClient(base_url=url, timeout=0.05) as impatient:
                for outcome in await asyncio.gather(*(impatient.post("/graphql", json=CHAT) for _ in range(10)),
                                                    return_exceptions=True):
                    assert isinstance(outcome, httpx.TimeoutException | httpx.Response)

            # when everything has ended
            deadline = time.monotonic() + 10
            while await gauges(client) != {"ragweave_admission_in_flight": 0, "ragweave_admission_queued": 0}:
                assert time.monotonic() < deadline, await gauges(client)
                await asyncio.sleep(0.1)

            # then both slots are free again: two chats run upstream at once, and a third request waits for them
            llm.reset()  # failures scripted for requests that were shed are left over
            held = await hold(client, llm, 2, latency=1.5, within=1.0)
            assert_overloaded(await client.post("/graphql", json=TYPENAME))
            assert [r.status_code for r in await asyncio.gather(*held)] == [200, 200]


def test_which_requests_count():
    """GraphQL over HTTP counts; a browser asking for GraphiQL, streamed subscriptions (SSE, multipart) and other
    paths or methods do not. Accept values are matched anywhere in the (joined, lower-cased) header."""

    def scope(method: str, accept: bytes | None = None, query_string: bytes = b"", path: str = "/graphql") -> dict:
        headers = [(b"host", b"x")] + ([(b"accept", accept)] if accept is not None else [])
        return {"type": "http", "method": method, "path": path, "headers": headers, "query_string": query_string}

    assert counted(scope("POST"), "/graphql")
    assert counted(scope("POST", b"application/json"), "/graphql")
    assert counted(scope("GET", b"*/*", b"query=%7B__typename%7D"), "/graphql")
    assert counted(scope("GET", b"Text/HTML,*/*", b"query=%7B__typename%7D"), "/graphql")
    assert not counted(scope("GET", b"Text/HTML,application/xhtml+xml"), "/graphql")
    assert not counted(scope("POST", b"application/json, Text/Event-Stream"), "/graphql")
    assert not counted(scope("POST", b"multipart/mixed;subscriptionSpec=1.0"), "/graphql")
    assert not counted(scope("DELETE"), "/graphql")
    assert not counted(scope("POST", path="/metrics"), "/graphql")
    assert not counted({**scope("GET"), "type": "websocket"}, "/graphql")
