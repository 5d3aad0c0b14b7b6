"""chatStream over every transport, through a real uvicorn on loopback: leaving closes the upstream stream."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import websockets

from tests.servers.app_server import serving
from tests.servers.openai_server import OpenAITestServer, slow_stream
from tests.test_http import app_for

WORDS = " ".join(f"w{i}" for i in range(60))
SUBSCRIPTION = (
    'subscription { chatStream(input: {messages: [{role: "user", content: "' + WORDS + '"}]}) '
    "{ __typename ... on ChatDelta { text } } }"
)


@pytest.fixture
def llm() -> Iterator[OpenAITestServer]:
    with OpenAITestServer() as server:
        yield server


@pytest.fixture
def server_url(tmp_path: Path, embedder, falkordb_server, llm: OpenAITestServer) -> Iterator[str]:
    app = app_for(tmp_path, embedder, falkordb_server.port, llm_url=llm.base_url, dev_mode=True)
    with serving(app) as url:
        yield url.removeprefix("http://")


@pytest.mark.parametrize("protocol", ["graphql-transport-ws", "graphql-ws"])
async def test_leaving_a_websocket_subscription_closes_the_upstream_stream(server_url, llm, protocol):
    llm.script(slow_stream(0.2))
    start = "subscribe" if protocol == "graphql-transport-ws" else "start"
    async with websockets.connect(f"ws://{server_url}/graphql", subprotocols=[protocol]) as ws:
        await ws.send(json.dumps({"type": "connection_init"}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        await ws.send(json.dumps({"id": "1", "type": start, "payload": {"query": SUBSCRIPTION}}))
        message = json.loads(await ws.recv())
        while message["type"] == "ka":
            message = json.loads(await ws.recv())
        assert message["payload"]["data"]["chatStream"]["__typename"] == "ChatDelta"
    cancel = await llm.wait_for_cancel(1.0)
    assert cancel.kind == "stream" and cancel.chunks_sent < 60


async def test_completing_a_subscription_closes_the_upstream_stream(server_url, llm):
    llm.script(slow_stream(0.2))
    async with websockets.connect(f"ws://{server_url}/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        await ws.send(json.dumps({"type": "connection_init"}))
        await ws.recv()
        await ws.send(json.dumps({"id": "7", "type": "subscribe", "payload": {"query": SUBSCRIPTION}}))
        assert json.loads(await ws.recv())["type"] == "next"
        await ws.send(json.dumps({"id": "7", "type": "complete"}))
        cancel = await llm.wait_for_cancel(1.0)
        assert cancel.kind == "stream"
        await ws.send(json.dumps({"id": "8", "type": "subscribe", "payload": {"query": "{ version }"}}))
        assert json.loads(await ws.recv())["payload"]["data"]["version"]


async def test_leaving_an_sse_subscription_closes_the_upstream_stream(server_url, llm):
    llm.script(slow_stream(0.2))
    async with httpx.AsyncClient(timeout=10) as client:
        request = client.stream("POST", f"http://{server_url}/graphql", json={"query": SUBSCRIPTION},
                                headers={"Accept": "text/event-stream"})
        async with request as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            async for line in response.aiter_lines():
                if line.startswith("data:") and "ChatDelta" in line:
                    break
    cancel = await llm.wait_for_cancel(1.0)
    assert cancel.kind == "stream"
    await asyncio.sleep(0)
