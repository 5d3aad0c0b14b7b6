"""Root Subscription: streamed chat and ingest progress."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry

from ragweave.context import Info
from ragweave.resolvers import chat, knowledge
from ragweave.schema.chat import ChatEvent, ChatInput
from ragweave.schema.ingest import IngestEvent


@strawberry.type
class Subscription:
    @strawberry.subscription
    async def chat_stream(self, info: Info, input: ChatInput) -> AsyncGenerator[ChatEvent, None]:
        async for event in chat.chat_stream(info, input):
            yield event

    @strawberry.subscription
    async def ingest_progress(self, info: Info, job_id: strawberry.ID) -> AsyncGenerator[IngestEvent, None]:
        async for event in knowledge.ingest_progress(info, str(job_id)):
            yield event
