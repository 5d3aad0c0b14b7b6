"""Chat inputs, results and the streamed event union."""

from __future__ import annotations

from typing import Annotated

import strawberry

from ragweave.schema.retrieval import Citation, RetrievalHit


@strawberry.input
class ChatMessageInput:
    role: str
    content: str


@strawberry.input
class RetrieveInput:
    query: str | None = None
    top_k: int = 5
    max_hops: int = 1


@strawberry.input
class ChatInput:
    messages: list[ChatMessageInput]
    model: str | None = None
    temperature: float | None = None
    json_mode: bool = False
    retrieve: RetrieveInput | None = strawberry.field(
        default=None,
        description="Ground the answer: retrieve with this query (default: the last user message) and cite.",
    )


@strawberry.type
class Usage:
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


@strawberry.type
class ChatResult:
    content: str
    model: str
    provider: str
    usage: Usage | None
    citations: list[Citation]


@strawberry.type
class ChatSources:
    hits: list[RetrievalHit]


@strawberry.type
class ChatDelta:
    text: str


@strawberry.type
class ChatDone:
    finish_reason: str
    usage: Usage | None
    model: str
    provider: str


@strawberry.type
class ChatFailed:
    code: str
    message: str
    retryable: bool


ChatEvent = Annotated[ChatSources | ChatDelta | ChatDone | ChatFailed, strawberry.union("ChatEvent")]
