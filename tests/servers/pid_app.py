"""An ASGI app that answers every request with the id of the process that served it (for tests/test_workers.py)."""

from __future__ import annotations

import os


async def app(scope, receive, send) -> None:
    assert scope["type"] == "http"
    body = str(os.getpid()).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
