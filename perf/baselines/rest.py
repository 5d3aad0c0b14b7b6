"""Baseline 1: a plain Starlette REST endpoint answering the same JSON as the GraphQL `Small` operation.

POST /search {"query": str, "topK": int} -> {"data": {"search": [{"score", "chunk": {"id", "text"}}]}}, computed
from the same datasources (one embeddings call, one vector query), with the same argument checks.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ragweave.datasources.vectors import VectorQuery


async def search(request: Request) -> JSONResponse:
    body = await request.json()
    query, top_k = body.get("query"), body.get("topK", 5)
    if not isinstance(query, str) or not query.strip() or not isinstance(top_k, int) or not 1 <= top_k <= 100:
        return JSONResponse({"error": "`query` must be non-empty and `topK` 1..100"}, status_code=400)
    ds = request.state.datasources
    [vector] = await ds.embedder.embed_many([query])
    [hits] = await ds.vectors.query_many("default", "chunks", [VectorQuery(tuple(vector), top_k)])
    return JSONResponse({"data": {"search": [
        {"score": h.score, "chunk": {"id": h.chunk.id, "text": h.chunk.text}} for h in hits
    ]}})


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"ok": True})


def create_rest_app(open_ds) -> Starlette:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, object]]:
        async with open_ds(None) as datasources:
            yield {"datasources": datasources}

    routes = [Route("/search", search, methods=["POST"]), Route("/healthz", healthz)]
    return Starlette(routes=routes, lifespan=lifespan)
