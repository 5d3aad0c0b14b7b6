"""Baseline 1: plain Starlette REST endpoints answering the same JSON as two GraphQL operations.

POST /search {"query": str, "topK": int} -> {"data": {"search": [{"score", "chunk": {"id", "text"}}]}}: `Small`,
from the same datasources (one embeddings call, one vector query), with the same argument checks.
POST /retrieve (the same body) -> `RetrieveWithEntities`' JSON: the vector hits, their RRF scores as ragweave's
vector-only `retrieve` fuses them (`ranking.rrf`), each chunk's document from its payload and its entities from one
graph call for all the hits (the gateway's route, without the N+1 it had).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ragweave.datasources.vectors import VectorQuery
from ragweave.records import ScoredChunk
from ragweave.resolvers import ranking


async def _vector_hits(request: Request) -> list[ScoredChunk] | JSONResponse:
    body = await request.json()
    query, top_k = body.get("query"), body.get("topK", 5)
    if not isinstance(query, str) or not query.strip() or not isinstance(top_k, int) or not 1 <= top_k <= 100:
        return JSONResponse({"error": "`query` must be non-empty and `topK` 1..100"}, status_code=400)
    ds = request.state.datasources
    [vector] = await ds.embedder.embed_many([query])
    [hits] = await ds.vectors.query_many("default", "chunks", [VectorQuery(tuple(vector), top_k)])
    return hits


async def search(request: Request) -> JSONResponse:
    hits = await _vector_hits(request)
    if isinstance(hits, JSONResponse):
        return hits
    return JSONResponse({"data": {"search": [
        {"score": h.score, "chunk": {"id": h.chunk.id, "text": h.chunk.text}} for h in hits
    ]}})


async def retrieve(request: Request) -> JSONResponse:
    hits = await _vector_hits(request)
    if isinstance(hits, JSONResponse):
        return hits
    ids = [h.chunk.id for h in hits]
    fused = ranking.rrf([ids])
    entities = await request.state.datasources.graph.entities_of_chunks("default", "chunks", ids)
    return JSONResponse({"data": {"retrieve": {"hits": [
        {"score": fused[h.chunk.id], "chunk": {
            "id": h.chunk.id, "text": h.chunk.text,
            "document": {"id": h.chunk.document_id, "title": h.chunk.document_title},
            "entities": [{"id": e.id, "name": e.name} for e in found],
        }}
        for h, found in zip(hits, entities, strict=True)
    ]}}})


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"ok": True})


def create_rest_app(open_ds) -> Starlette:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, object]]:
        async with open_ds(None) as datasources:
            yield {"datasources": datasources}

    routes = [Route("/search", search, methods=["POST"]), Route("/retrieve", retrieve, methods=["POST"]),
              Route("/healthz", healthz)]
    return Starlette(routes=routes, lifespan=lifespan)
