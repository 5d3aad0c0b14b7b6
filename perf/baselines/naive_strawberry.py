"""Baseline 2: a straightforward Strawberry + aiodataloader server for the same query shapes as ragweave.

Defaults everywhere: no parser/validation caches, no limits, no error extensions. The root resolvers call the
(batch-shaped) datasources directly; nested fields (chunk.entities, entity.neighbors) go through per-request
DataLoaders. The ranking math is ragweave's own pure functions, so both servers return the same data.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import strawberry
from aiodataloader import DataLoader
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from strawberry.asgi import GraphQL

from ragweave import records
from ragweave.datasources.vectors import VectorQuery
from ragweave.resolvers import ranking

TENANT, COLLECTION = "default", "chunks"


@strawberry.type
class Document:
    id: strawberry.ID
    title: str | None


@strawberry.type
class Entity:
    id: strawberry.ID
    name: str
    type: str

    @strawberry.field
    async def neighbors(self, info: strawberry.Info, hops: int = 1, first: int = 20) -> list[Entity]:
        reached = await info.context["neighbors"].load((self.id, hops))
        return [entity(r.entity) for r in reached[:first]]


def entity(e: records.Entity) -> Entity:
    return Entity(id=strawberry.ID(e.id), name=e.name, type=e.type)


@strawberry.type
class Chunk:
    id: strawberry.ID
    text: str
    record: strawberry.Private[records.Chunk]

    @strawberry.field
    def document(self) -> Document:
        return Document(id=strawberry.ID(self.record.document_id), title=self.record.document_title)

    @strawberry.field
    async def entities(self, info: strawberry.Info) -> list[Entity]:
        return [entity(e) for e in await info.context["chunk_entities"].load(self.id)]


def chunk(c: records.Chunk) -> Chunk:
    return Chunk(id=strawberry.ID(c.id), text=c.text, record=c)


@strawberry.type
class SearchHit:
    score: float
    chunk: Chunk


@strawberry.type
class ScoreBreakdown:
    vector: float | None
    graph: float | None
    fused: float
    rerank: float | None = None


@strawberry.type
class Citation:
    chunk: Chunk
    document: Document
    via: list[Entity]


@strawberry.type
class RetrievalHit:
    chunk: Chunk
    score: float
    scores: ScoreBreakdown
    citations: list[Citation]


@strawberry.type
class Relation:
    type: str


@strawberry.type
class Subgraph:
    nodes: list[Entity]
    edges: list[Relation]


@strawberry.type
class Retrieval:
    hits: list[RetrievalHit]
    subgraph: Subgraph | None


def _names(fields) -> set[str]:
    return {n for f in fields for n in (f.name, *_names(getattr(f, "selections", [])))}


async def _graph(ds, query: str, hits, max_hops: int):
    seeds = await ds.graph.entities_by_names(TENANT, ranking.name_candidates(query))
    linked = await ds.graph.entities_of_chunks(TENANT, COLLECTION, [h.chunk.id for h in hits])
    entities = {e.id: e for e in [*seeds, *(e for es in linked for e in es)]}
    reached = dict.fromkeys(sorted(entities), 0)
    for found in await ds.graph.neighbors(TENANT, list(reached), max_hops):
        for r in found:
            entities.setdefault(r.entity.id, r.entity)
            reached[r.entity.id] = min(reached.get(r.entity.id, 99), r.hops)
    reached = dict(sorted(reached.items(), key=lambda item: (item[1], item[0]))[:200])
    mentions = await ds.graph.mentions(TENANT, COLLECTION, list(reached))
    chunk_ids = {e: [m.chunk_id for m in ms] for e, ms in zip(reached, mentions, strict=True)}
    scores, via = ranking.graph_scores(reached, chunk_ids)
    edges = {(r.source_id, r.target_id, r.type): r for rs in await ds.graph.relations(TENANT, list(reached))
             for r in rs if r.source_id in reached and r.target_id in reached}
    subgraph = Subgraph(nodes=[entity(entities[e]) for e in reached],
                        edges=[Relation(type=r.type) for _, r in sorted(edges.items())])
    return scores, {c: [entities[e] for e in es] for c, es in via.items()}, subgraph


@strawberry.type
class Query:
    @strawberry.field
    async def search(self, info: strawberry.Info, query: str, top_k: int = 5) -> list[SearchHit]:
        ds = info.context["ds"]
        [vector] = await ds.embedder.embed_many([query])
        [hits] = await ds.vectors.query_many(TENANT, COLLECTION, [VectorQuery(tuple(vector), top_k)])
        return [SearchHit(score=h.score, chunk=chunk(h.chunk)) for h in hits]

    @strawberry.field
    async def retrieve(self, info: strawberry.Info, query: str, top_k: int = 5, max_hops: int = 1) -> Retrieval:
        ds = info.context["ds"]
        [vector] = await ds.embedder.embed_many([query])
        [hits] = await ds.vectors.query_many(TENANT, COLLECTION, [VectorQuery(tuple(vector), top_k)])
        use_graph = bool(_names(info.selected_fields) & {"subgraph", "via", "graph"})
        scores, via, subgraph = await _graph(ds, query, hits, max_hops) if use_graph else ({}, {}, None)
        fused = ranking.rrf([[h.chunk.id for h in hits], ranking.ranked(scores)])
        candidates = ranking.ranked(fused)[: top_k * 2]
        chunks = {h.chunk.id: h.chunk for h in hits}
        missing = [c for c in candidates if c not in chunks]
        if missing:
            chunks.update({c.id: c for c in await ds.vectors.chunks_by_ids(TENANT, COLLECTION, missing) if c})
        vector_scores = {h.chunk.id: h.score for h in hits}
        out = []
        for cid in [c for c in candidates if c in chunks][:top_k]:
            node = chunk(chunks[cid])
            breakdown = ScoreBreakdown(vector=vector_scores.get(cid), graph=scores.get(cid, 0.0) if use_graph else None,
                                       fused=fused[cid])
            citation = Citation(chunk=node, document=node.document(), via=[entity(e) for e in via.get(cid, [])])
            out.append(RetrievalHit(chunk=node, score=fused[cid], scores=breakdown, citations=[citation]))
        return Retrieval(hits=out, subgraph=subgraph)


class NaiveGraphQL(GraphQL):
    async def get_context(self, request, response) -> dict[str, object]:
        ds = request.state.datasources

        async def chunk_entities(ids):
            return await ds.graph.entities_of_chunks(TENANT, COLLECTION, ids)

        async def neighbors(keys):
            found = await ds.graph.neighbors(TENANT, [i for i, _ in keys], max(h for _, h in keys))
            return [[r for r in reached if r.hops <= h] for reached, (_, h) in zip(found, keys, strict=True)]

        return {"ds": ds, "chunk_entities": DataLoader(chunk_entities), "neighbors": DataLoader(neighbors)}


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"ok": True})


def create_naive_app(open_ds) -> Starlette:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, object]]:
        async with open_ds(None) as datasources:
            yield {"datasources": datasources}

    view = NaiveGraphQL(strawberry.Schema(query=Query))
    return Starlette(routes=[Route("/graphql", view, methods=["POST"]), Route("/healthz", healthz)], lifespan=lifespan)
