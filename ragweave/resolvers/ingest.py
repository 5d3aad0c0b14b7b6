"""Ingestion: documents → chunks → vectors → graph, idempotent and resumable.

Per document: skip when the graph's Document node already carries this content hash (finished earlier);
otherwise chunk, embed, upsert points with deterministic ids, drop stale points and chunk nodes, extract a graph
per chunk, write it with MENTIONED_IN provenance, prune entities nothing mentions any more, and only then
record the content hash. A failed extraction leaves the hash unrecorded, so the next run retries it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ragweave import records
from ragweave.datasources.chunk_points import chunk_id
from ragweave.datasources.lifecycle import Datasources
from ragweave.datasources.vectors import ChunkPoint
from ragweave.errors import AppError
from ragweave.resolvers.chunking import chunk_text
from ragweave.resolvers.extraction import ExtractOptions, Extractor
from ragweave.resolvers.graph_input import checked_graph


@dataclass(frozen=True, slots=True)
class SourceDocument:
    id: str
    text: str
    title: str | None = None
    metadata: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Failure:
    document_id: str
    chunk_index: int | None
    stage: str
    message: str


@dataclass(slots=True)
class Report:
    documents: int = 0
    skipped: int = 0
    chunks: int = 0
    entities: int = 0
    relations: int = 0
    failures: list[Failure] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ChunkDone:
    document_id: str
    chunk_index: int
    entities: int


Progress = Callable[[ChunkDone], None]


def content_hash(doc: SourceDocument, chunk_size: int, chunk_overlap: int, extractor: str, extract: bool) -> str:
    material = json.dumps([doc.title, doc.text, doc.metadata, chunk_size, chunk_overlap, extractor, extract],
                          sort_keys=True)
    return hashlib.sha256(material.encode()).hexdigest()


@dataclass
class Ingestor:
    ds: Datasources
    tenant: str
    collection: str
    extractor: Extractor
    chunk_size: int
    chunk_overlap: int
    extract_graph: bool = True
    progress: Progress | None = None

    async def run(
        self, documents: Sequence[SourceDocument], on_document: Callable[[Report], None] | None = None
    ) -> Report:
        report = Report()
        hashes = {d.id: content_hash(d, self.chunk_size, self.chunk_overlap, self.extractor.name, self.extract_graph)
                  for d in documents}
        done = await self.ds.graph.document_hashes(self.tenant, self.collection, [d.id for d in documents])
        for doc, stored_hash in zip(documents, done, strict=True):
            report.documents += 1
            if stored_hash == hashes[doc.id]:
                report.skipped += 1
            else:
                try:
                    await self._ingest(doc, hashes[doc.id], report)
                except AppError as exc:
                    report.failures.append(Failure(doc.id, None, "store", str(exc)))
            if on_document:
                on_document(report)
        return report

    async def _ingest(self, doc: SourceDocument, doc_hash: str, report: Report) -> None:
        spans = chunk_text(doc.text, size=self.chunk_size, overlap=self.chunk_overlap)
        chunks = [
            records.Chunk(id=chunk_id(doc.id, s.index), document_id=doc.id, index=s.index, text=s.text,
                          start=s.start, end=s.end, metadata=doc.metadata, document_title=doc.title,
                          document_metadata=doc.metadata)
            for s in spans
        ]
        vectors = await self.ds.embedder.embed_many([c.text for c in chunks])
        points = [ChunkPoint(c, v, doc_hash) for c, v in zip(chunks, vectors, strict=True)]
        await self.ds.vectors.upsert(self.tenant, self.collection, points)
        await self.ds.vectors.delete_document(self.tenant, self.collection, doc.id, from_index=len(chunks))
        previously = await self.ds.graph.replace_document(self.tenant, self.collection, doc.id, doc.title, chunks)
        report.chunks += len(chunks)
        failed = await self._extract(doc, chunks, report) if self.extract_graph else False
        if previously:
            await self.ds.graph.prune_entities(self.tenant, previously)
        if not failed:
            await self.ds.graph.mark_document_done(self.tenant, self.collection, doc.id, doc_hash)

    async def _extract(self, doc: SourceDocument, chunks: list[records.Chunk], report: Report) -> bool:
        nodes: list[records.GraphNode] = []
        edges: list[records.GraphEdge] = []
        failed = False
        for chunk in chunks:
            try:
                extraction = await self.extractor.extract(chunk.text, ExtractOptions())
            except AppError as exc:
                report.failures.append(Failure(doc.id, chunk.index, "extract", str(exc)))
                failed = True
                continue
            nodes.extend(records.GraphNode(n.id, n.type, n.name, n.properties, (chunk.id,))
                         for n in extraction.graph.nodes)
            edges.extend(extraction.graph.edges)
            if self.progress:
                self.progress(ChunkDone(doc.id, chunk.index, len(extraction.graph.nodes)))
        clean_nodes, clean_edges = checked_graph(nodes, edges)
        mentions = [(n.id, self.collection, c) for n in clean_nodes for c in n.mentions]
        await self.ds.graph.upsert(self.tenant, clean_nodes, clean_edges, mentions)
        report.entities += len(clean_nodes)
        report.relations += len(clean_edges)
        return failed
