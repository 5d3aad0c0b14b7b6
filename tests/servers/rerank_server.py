"""A TEI-style `/rerank` server on loopback for reranker tests: BM25 scores squashed to 0..1, sorted like TEI."""

from __future__ import annotations

import math
import threading
import time

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ragweave.datasources.reranker import bm25_scores
from tests.servers.neo4j_server import free_port


class RerankTestServer:
    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.fail_with: int | None = None
        self.hang = False  # never answer; `disconnects` records when the client gave up
        self.disconnects: list[float] = []
        self.port = free_port()
        app = Starlette(routes=[Route("/rerank", self._rerank, methods=["POST"])])
        self._server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _rerank(self, request: Request) -> JSONResponse:
        body = await request.json()
        self.requests.append(body)
        if self.hang:
            while (await request.receive())["type"] != "http.disconnect":
                pass
            self.disconnects.append(time.monotonic())
            return JSONResponse({}, status_code=499)
        if self.fail_with:
            return JSONResponse({"error": "scripted failure"}, status_code=self.fail_with)
        scores = [1 / (1 + math.exp(-s)) if s else 0.0 for s in bm25_scores(body["query"], body["texts"])]
        ranked = sorted(range(len(scores)), key=lambda i: -scores[i])
        return JSONResponse([{"index": i, "score": scores[i]} for i in ranked])

    def __enter__(self) -> RerankTestServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=5)
