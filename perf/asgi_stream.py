"""One chatStream subscription spoken to the ASGI app directly (graphql-transport-ws over a WebSocket scope, no
socket, no uvicorn), for `perf.instructions --op ChatStream`."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from perf.streams import SUBSCRIPTION, message


def _scope(key: str, state: dict) -> dict[str, Any]:
    return {"type": "websocket", "asgi": {"version": "3.0"}, "http_version": "1.1", "scheme": "ws",
            "path": "/graphql", "raw_path": b"/graphql", "query_string": b"", "root_path": "",
            "headers": [(b"host", b"127.0.0.1"), (b"sec-websocket-protocol", b"graphql-transport-ws")],
            "client": ("127.0.0.1", 5555), "server": ("127.0.0.1", 8000), "subprotocols": ["graphql-transport-ws"],
            "state": dict(state)}


async def subscribe_once(app: Any, state: dict, key: str, words: int) -> list[dict[str, Any]]:
    """Connects, subscribes, and returns every message the server sent until `complete` (or `error`)."""
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    received: list[dict[str, Any]] = []
    init = {"type": "connection_init", "payload": {"authorization": f"Bearer {key}"}}
    subscribe = {"id": "1", "type": "subscribe",
                 "payload": {"query": SUBSCRIPTION, "variables": {"m": message(words)}}}
    inbox.put_nowait({"type": "websocket.connect"})
    inbox.put_nowait({"type": "websocket.receive", "text": json.dumps(init)})

    async def send(event: dict[str, Any]) -> None:
        if event["type"] == "websocket.close":
            inbox.put_nowait({"type": "websocket.disconnect", "code": 1000})
        if event["type"] != "websocket.send":
            return
        sent = json.loads(event["text"])
        received.append(sent)
        if sent["type"] == "connection_ack":
            inbox.put_nowait({"type": "websocket.receive", "text": json.dumps(subscribe)})
        elif sent["type"] in ("complete", "error"):
            inbox.put_nowait({"type": "websocket.disconnect", "code": 1000})

    await app(_scope(key, state), inbox.get, send)
    return received
