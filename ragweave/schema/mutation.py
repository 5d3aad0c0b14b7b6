"""Root Mutation: thin fields wired to resolvers/."""

from __future__ import annotations

import strawberry

from ragweave.context import Info
from ragweave.resolvers import chat, knowledge
from ragweave.schema.chat import ChatInput, ChatResult
from ragweave.schema.ingest import (
    DeleteResult,
    DocumentInput,
    ExtractOptions,
    GraphExtraction,
    GraphInput,
    IngestResult,
    UpsertResult,
)


@strawberry.type
class Mutation:
    @strawberry.mutation
    async def chat(self, info: Info, input: ChatInput) -> ChatResult:
        return await chat.chat(info, input)

    @strawberry.mutation
    async def ingest(
        self, info: Info, documents: list[DocumentInput], extract_graph: bool = True, collection: str | None = None,
        job_id: strawberry.ID | None = None,
    ) -> IngestResult:
        return await knowledge.ingest(info, documents, extract_graph, collection, str(job_id) if job_id else None)

    @strawberry.mutation
    async def extract_graph(self, info: Info, text: str, options: ExtractOptions | None = None) -> GraphExtraction:
        return await knowledge.extract_graph(info, text, options)

    @strawberry.mutation
    async def upsert_graph(self, info: Info, graph: GraphInput) -> UpsertResult:
        return await knowledge.upsert_graph(info, graph)

    @strawberry.mutation
    async def delete_document(self, info: Info, id: strawberry.ID) -> DeleteResult:
        return await knowledge.delete_document(info, str(id))
