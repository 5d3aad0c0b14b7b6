"""Writing knowledge: ingest, extractGraph, upsertGraph and deleteDocument."""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator
from typing import Any

import strawberry

from ragweave import records
from ragweave.context import Info
from ragweave.deadline import request_deadline
from ragweave.errors import BadUserInput
from ragweave.resolvers import extraction, graph_input
from ragweave.resolvers.ingest import ChunkDone, Ingestor, Report, SourceDocument
from ragweave.resolvers.search import collection_of
from ragweave.schema import ingest as types

MAX_DOCUMENTS = 100
MAX_DOCUMENT_CHARS = 2_000_000
MAX_EXTRACT_CHARS = 20_000


def _documents(documents: list[types.DocumentInput]) -> list[SourceDocument]:
    if not 1 <= len(documents) <= MAX_DOCUMENTS:
        raise BadUserInput(f"`documents` must hold 1..{MAX_DOCUMENTS} documents", argument="documents")
    if len({str(d.id) for d in documents}) != len(documents):
        raise BadUserInput("document ids must be unique within one ingest", argument="documents")
    for doc in documents:
        graph_input.text_field("id", str(doc.id), graph_input.MAX_ID_CHARS)
        if "#" in str(doc.id):
            raise BadUserInput("document ids must not contain '#'", argument="documents")
        if "\x00" in f"{doc.id}{doc.title or ''}":  # one graph engine cannot store it: refuse before any write
            raise BadUserInput("document ids and titles must not contain NUL characters", argument="documents")
        if len(doc.text) > MAX_DOCUMENT_CHARS:
            raise BadUserInput(f"a document is longer than {MAX_DOCUMENT_CHARS} characters", argument="documents")
        graph_input.properties(doc.metadata)
    return [SourceDocument(str(d.id), d.text, d.title, d.metadata or None) for d in documents]


def _result(job_id: str, report: Report, extractor: str) -> types.IngestResult:
    return types.IngestResult(
        job_id=strawberry.ID(job_id), documents=report.documents, chunks=report.chunks, entities=report.entities,
        relations=report.relations, skipped=report.skipped, extractor=extractor,
        failures=[types.IngestFailure(document_id=strawberry.ID(f.document_id), chunk_index=f.chunk_index,
                                      stage=f.stage, message=f.message) for f in report.failures],
    )


async def ingest(
    info: Info, documents: list[types.DocumentInput], extract_graph: bool, collection: str | None,
    job_id: str | None,
) -> types.IngestResult:
    ctx = info.context
    ctx.require("writer")
    sources = _documents(documents)
    job_id = job_id or uuid.uuid4().hex
    extractor = extraction.extractor_for(ctx.datasources)

    def progress(done: ChunkDone) -> None:
        ctx.jobs.publish(job_id, types.IngestChunkDone(
            document_id=strawberry.ID(done.document_id), chunk_index=done.chunk_index, entities=done.entities))

    ctx.jobs.publish(job_id, types.IngestStarted(job_id=strawberry.ID(job_id), documents=len(sources)))
    ingestor = Ingestor(
        ctx.datasources, ctx.tenant, collection_of(ctx, collection), extractor,
        ctx.settings.chunk_size, ctx.settings.chunk_overlap, extract_graph, progress,
    )
    with request_deadline(None):  # bounded by its input limits and per-call timeouts, and resumable
        report = await ingestor.run(sources)
    result = _result(job_id, report, extractor.name)
    ctx.jobs.publish(job_id, types.IngestFinished(result=result), final=True)
    return result


async def ingest_progress(info: Info, job_id: str) -> AsyncGenerator[Any, None]:
    async for event in info.context.jobs.follow(job_id):
        yield event


async def extract_graph(info: Info, text: str, options: types.ExtractOptions | None) -> types.GraphExtraction:
    info.context.require("writer")
    graph_input.text_field("text", text, MAX_EXTRACT_CHARS)
    options = options or types.ExtractOptions()
    extractor = extraction.extractor_for(info.context.datasources)
    result = await extractor.extract(text, extraction.ExtractOptions(
        min_nodes=options.min_nodes or 0, min_edges=options.min_edges or 0, allow_empty=options.allow_empty,
        max_attempts=options.max_attempts or 2,
    ))
    return types.GraphExtraction(
        nodes=[types.GraphNode(id=strawberry.ID(n.id), type=n.type, name=n.name, properties=n.properties)
               for n in result.graph.nodes],
        edges=[types.GraphEdge(source=strawberry.ID(e.source), target=strawberry.ID(e.target), type=e.type,
                               properties=e.properties) for e in result.graph.edges],
        provider=result.provider, attempts=result.attempts, schema_hash=result.schema_hash,
    )


async def upsert_graph(info: Info, graph: types.GraphInput) -> types.UpsertResult:
    ctx = info.context
    ctx.require("writer")
    nodes, edges = graph_input.checked_graph(
        [records.GraphNode(str(n.id), n.type, n.name, n.properties, tuple(str(m) for m in n.mentions or ()))
         for n in graph.nodes],
        [records.GraphEdge(str(e.source), str(e.target), e.type, e.properties) for e in graph.edges],
    )
    collection = ctx.settings.default_collection
    wanted = sorted({m for n in nodes for m in n.mentions})
    if wanted:
        existing = await ctx.datasources.graph.existing_chunks(ctx.tenant, collection, wanted)
        unknown = [m for m in wanted if m not in existing]
        if unknown:
            raise BadUserInput(f"unknown chunk ids in mentions: {unknown[:5]}", argument="mentions")
    mentions = [(n.id, collection, m) for n in nodes for m in n.mentions]
    with request_deadline(None):  # a write is not cut halfway by the request's deadline
        await ctx.datasources.graph.upsert(ctx.tenant, nodes, edges, mentions)
    return types.UpsertResult(nodes=len(nodes), edges=len(edges))


async def delete_document(info: Info, document_id: str) -> types.DeleteResult:
    ctx = info.context
    ctx.require("writer")
    collection = ctx.settings.default_collection
    with request_deadline(None):
        points = await ctx.datasources.vectors.delete_document(ctx.tenant, collection, document_id)
        chunk_nodes, entities = await ctx.datasources.graph.delete_document(ctx.tenant, collection, document_id)
    return types.DeleteResult(document_id=strawberry.ID(document_id), chunks=max(points, chunk_nodes),
                              entities_removed=entities)
