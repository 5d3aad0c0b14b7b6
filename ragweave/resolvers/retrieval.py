"""`retrieve`: vector hits fused with chunks reached through the knowledge graph.

1. The vector search and the entity-name seed lookup run concurrently.
2. Seeds = entities of the top vector hits + entities whose name matches a query n-gram; they are expanded up
   to `maxHops` and the chunks mentioning every reached entity are gathered (`ranking.graph_scores`).
3. Vector and graph rankings are fused with RRF (`ranking.rrf`); asking for `scores { rerank }` reranks.
Graph work happens only when the selection asks for `subgraph`, `citations { via }` or `scores { graph }`.
When it also asks for the hits' `chunk { entities }`, the mentions query brings the entities of every chunk the
graph reached, so hits that only the graph found need no second `entities_of_chunks` call; the hits' other chunks'
entities are sent for as soon as the hits are known, so that the query runs while the hits are completed (and
reranked), not after.
A graph failure, or the graph stage overrunning its share of the request's deadline, leaves the vector hits
standing and is reported in `degraded` and on `subgraph`; a reranker failure leaves the fused order standing.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from ragweave import deadline, records
from ragweave.context import Context, Info
from ragweave.datasources.calls import timed
from ragweave.errors import BackendError, check_range
from ragweave.loaders import Loaders, SearchKey, start_batch
from ragweave.resolvers import ranking
from ragweave.resolvers.carriers import chunk_answers
from ragweave.resolvers.search import search_key
from ragweave.resolvers.selection import selected_paths
from ragweave.schema.direct_root import carried_answer
from ragweave.schema.retrieval import (
    ChunkFilter,
    Citation,
    Retrieval,
    RetrievalHit,
    ScoreBreakdown,
    Subgraph,
)
from ragweave.schema.types import Chunk, Entity, Relation

GRAPH_FIELDS = {"subgraph", "hits.citations.via", "hits.scores.graph"}
CHUNK_ENTITY_FIELDS = {"hits.chunk.entities", "hits.citations.chunk.entities"}
MAX_REACHED_ENTITIES = 200


@dataclass(slots=True)
class GraphOutcome:
    reached: dict[str, int] = field(default_factory=dict)
    entities: dict[str, records.Entity] = field(default_factory=dict)
    scores: dict[str, float] = field(default_factory=dict)
    via: dict[str, list[str]] = field(default_factory=dict)
    chunk_entities: dict[str, list[records.Entity]] = field(default_factory=dict)  # of reached chunks, if asked
    error: BackendError | None = None


async def retrieve(
    info: Info, query: str, top_k: int, max_hops: int, flt: ChunkFilter | None, collection: str | None
) -> Retrieval:
    paths = selected_paths(info)
    key = search_key(info.context, query, top_k, flt, collection)
    with_chunk_entities = bool(paths & CHUNK_ENTITY_FIELDS)
    retrieval = await run_retrieval(
        info.context, info.context.loaders, key, max_hops,
        use_graph=bool(paths & GRAPH_FIELDS), use_reranker="hits.scores.rerank" in paths,
        with_chunk_entities=with_chunk_entities, with_citations="hits.citations" in paths,
    )
    if carried_answer.get():
        await _carry_chunks(info.context.loaders, retrieval, with_chunk_entities)
    return retrieval


async def _carry_chunks(loaders: Loaders, retrieval: Retrieval, with_entities: bool) -> None:
    """The hits' and citations' chunks replaced by their carriers, for a direct run whose completer reads their
    `document` and `entities`; left as they are where the entities fail to load (`chunk_answers`)."""
    chunks = {id(hit.chunk): hit.chunk for hit in retrieval.hits}
    chunks.update((id(citation.chunk), citation.chunk) for hit in retrieval.hits for citation in hit.citations)
    answers = await chunk_answers(loaders, [(chunk.record, chunk.collection) for chunk in chunks.values()],
                                  with_entities)
    if answers is None:
        return
    carriers = dict(zip(chunks, answers, strict=True))
    for hit in retrieval.hits:
        hit.chunk = carriers[id(hit.chunk)]
        for citation in hit.citations:
            citation.chunk = carriers[id(citation.chunk)]


async def run_retrieval(
    ctx: Context, loaders: Loaders, key: SearchKey, max_hops: int, *, use_graph: bool, use_reranker: bool,
    with_chunk_entities: bool = False, with_citations: bool = True,
) -> Retrieval:
    """`with_citations=False` leaves each hit's `citations` empty: for an operation that does not select them."""
    started = time.perf_counter()
    check_range("maxHops", max_hops, 1, 3)
    graph: GraphOutcome | None = None
    if use_graph:
        vector_hits, name_seeds = await asyncio.gather(loaders.search.load(key), _name_seeds(ctx, key.text))
        with timed("retrieve.graph"), deadline.stage(ctx.settings.graph_stage_share):
            graph = await _expand(loaders, key, vector_hits, name_seeds, max_hops, with_chunk_entities)
    else:
        vector_hits = await loaders.search.load(key)
        if with_chunk_entities:  # with the graph, `_expand` asked for them
            await start_batch(loaders.chunk_entities, [(key.collection, h.chunk.id) for h in vector_hits])
    degraded = [graph.error.code] if graph and graph.error else []
    hits = await _fuse(loaders, key, vector_hits, graph, with_citations)
    if use_reranker:
        try:
            hits = await _rerank(ctx, key.text, hits)
        except BackendError as exc:  # the fused order stands; `rerank` scores stay null
            degraded.append(exc.code)
    return Retrieval(
        hits=hits,
        degraded=degraded,
        query_time_ms=round((time.perf_counter() - started) * 1000),
        build_subgraph=lambda: _subgraph(loaders, key.collection, graph),
    )


async def _name_seeds(ctx: Context, query: str) -> list[records.Entity] | BackendError:
    try:
        return await ctx.datasources.graph.entities_by_names(ctx.tenant, ranking.name_candidates(query))
    except BackendError as exc:
        return exc


async def _expand(
    loaders: Loaders, key: SearchKey, vector_hits: list[records.ScoredChunk],
    name_seeds: list[records.Entity] | BackendError, max_hops: int, with_chunk_entities: bool,
) -> GraphOutcome:
    if isinstance(name_seeds, BackendError):
        return GraphOutcome(error=name_seeds)
    try:
        linked = await loaders.chunk_entities.load_many([(key.collection, h.chunk.id) for h in vector_hits])
        outcome = GraphOutcome(entities={e.id: e for e in [*name_seeds, *(e for es in linked for e in es)]})
        outcome.reached = dict.fromkeys(sorted(outcome.entities), 0)
        for reached in await loaders.ds.graph.reach(loaders.tenant, list(outcome.reached), max_hops):
            outcome.entities.setdefault(reached.entity.id, reached.entity)
            outcome.reached.setdefault(reached.entity.id, reached.hops)
        nearest = sorted(outcome.reached.items(), key=lambda item: (item[1], item[0]))[:MAX_REACHED_ENTITIES]
        outcome.reached = dict(nearest)
        if with_chunk_entities:
            mentions, outcome.chunk_entities = await loaders.mentions_with_chunk_entities(
                key.collection, list(outcome.reached)
            )
        else:
            mentions = await loaders.mentions.load_many([(key.collection, eid) for eid in outcome.reached])
        allowed = key.filter.document_ids if key.filter else None
        chunk_ids = {
            eid: [m.chunk_id for m in found if allowed is None or m.document_id in allowed]
            for eid, found in zip(outcome.reached, mentions, strict=True)
        }
        outcome.scores, outcome.via = ranking.graph_scores(outcome.reached, chunk_ids)
        return outcome
    except BackendError as exc:
        return GraphOutcome(error=exc)


def _metadata_allowed(key: SearchKey, chunk: records.Chunk) -> bool:
    wanted = key.filter.metadata if key.filter else None
    return not wanted or all((chunk.metadata or {}).get(k) == v for k, v in wanted)


async def _fuse(
    loaders: Loaders, key: SearchKey, vector_hits: list[records.ScoredChunk], graph: GraphOutcome | None,
    with_citations: bool,
) -> list[RetrievalHit]:
    vector_scores = {h.chunk.id: h.score for h in vector_hits}
    chunks = {h.chunk.id: h.chunk for h in vector_hits}
    graph_scores = graph.scores if graph else {}
    fused = ranking.rrf([[h.chunk.id for h in vector_hits], ranking.ranked(graph_scores)])
    candidates = ranking.ranked(fused)[: key.limit * 2]
    missing = [cid for cid in candidates if cid not in chunks]
    if missing:
        found = await loaders.chunk.load_many([(key.collection, cid) for cid in missing])
        chunks.update({c.id: c for c in found if c is not None and _metadata_allowed(key, c)})
    ordered = [cid for cid in candidates if cid in chunks][: key.limit]
    if graph and graph.chunk_entities:
        reached = graph.chunk_entities
        loaders.prime_chunk_entities(key.collection, {cid: reached[cid] for cid in ordered if cid in reached})
    return [
        _hit(key.collection, chunks[cid], fused[cid], vector_scores.get(cid), graph, graph_scores.get(cid),
             with_citations)
        for cid in ordered
    ]


def _hit(
    collection: str, chunk: records.Chunk, fused: float, vector: float | None,
    graph: GraphOutcome | None, graph_score: float | None, with_citations: bool,
) -> RetrievalHit:
    node = Chunk.from_record(chunk, collection)
    graph_value = None if graph is None or graph.error else (graph_score or 0.0)
    return RetrievalHit(
        chunk=node, score=fused,
        scores=ScoreBreakdown(vector=vector, graph=graph_value, fused=fused, rerank=None),
        citations=[_citation(node, collection, graph)] if with_citations else [],
    )


def _citation(node: Chunk, collection: str, graph: GraphOutcome | None) -> Citation:
    via = [Entity.from_record(graph.entities[eid], collection) for eid in graph.via.get(node.id, [])] if graph else []
    return Citation(chunk=node, document=node.document(), via=via)


async def _rerank(ctx: Context, query: str, hits: list[RetrievalHit]) -> list[RetrievalHit]:
    if not hits:
        return hits
    scores = await ctx.datasources.reranker.rerank(query, [h.chunk.text for h in hits])
    for hit, score in zip(hits, scores, strict=True):
        hit.scores.rerank = score.score
    return sorted(hits, key=lambda h: -(h.scores.rerank or 0.0))


async def _subgraph(loaders: Loaders, collection: str, graph: GraphOutcome | None) -> Subgraph | None:
    if graph is None:
        return None
    if graph.error:
        raise graph.error
    relations = await loaders.relations.load_many(list(graph.reached))
    edges: dict[tuple[str, str, str], records.Relation] = {}
    for found in relations:
        for r in found:
            if r.source_id in graph.reached and r.target_id in graph.reached:
                edges[(r.source_id, r.target_id, r.type)] = r
    return Subgraph(
        nodes=[Entity.from_record(graph.entities[eid], collection) for eid in graph.reached],
        edges=[Relation.from_record(r, collection) for _, r in sorted(edges.items())],
    )
