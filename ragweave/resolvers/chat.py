"""`chat` (one answer) and `chatStream` (typed events), optionally grounded by retrieval with citations."""

from __future__ import annotations

from collections.abc import AsyncGenerator

from ragweave import deadline, records
from ragweave.context import Context, Info
from ragweave.datasources.chat import ChatModel
from ragweave.errors import AppError, BackendError, BadUserInput, NotConfigured
from ragweave.loaders import Loaders
from ragweave.resolvers import prompting
from ragweave.resolvers.retrieval import run_retrieval
from ragweave.resolvers.search import search_key
from ragweave.schema.chat import ChatDelta, ChatDone, ChatEvent, ChatFailed, ChatInput, ChatResult, ChatSources, Usage
from ragweave.schema.retrieval import RetrievalHit

ROLES = {"system", "user", "assistant"}
MAX_MESSAGES = 100
MAX_MESSAGE_CHARS = 32_000


def chat_model(ctx: Context) -> ChatModel:
    if ctx.datasources.chat is None:
        raise NotConfigured("no LLM endpoint is configured: set OPENAI_BASE_URL (and OPENAI_API_KEY)")
    return ctx.datasources.chat


def messages_of(chat_input: ChatInput) -> list[records.ChatMessage]:
    if not 1 <= len(chat_input.messages) <= MAX_MESSAGES:
        raise BadUserInput(f"`messages` must hold 1..{MAX_MESSAGES} messages", argument="messages")
    for message in chat_input.messages:
        if message.role not in ROLES:
            raise BadUserInput(f"message role must be one of {sorted(ROLES)}", argument="messages")
        if len(message.content) > MAX_MESSAGE_CHARS:
            raise BadUserInput(f"a message is longer than {MAX_MESSAGE_CHARS} characters", argument="messages")
    return [records.ChatMessage(m.role, m.content) for m in chat_input.messages]


async def _ground(
    ctx: Context, loaders: Loaders, chat_input: ChatInput, messages: list[records.ChatMessage]
) -> list[RetrievalHit]:
    if chat_input.retrieve is None:
        return []
    query = chat_input.retrieve.query or prompting.last_user_message(messages) or ""
    key = search_key(ctx, query, chat_input.retrieve.top_k, None, None)
    with deadline.stage(ctx.settings.grounding_share):
        retrieval = await run_retrieval(
            ctx, loaders, key, chat_input.retrieve.max_hops, use_graph=True, use_reranker=False
        )
    return retrieval.hits


def _usage(usage: records.Usage | None) -> Usage | None:
    return Usage(prompt_tokens=usage.prompt_tokens, completion_tokens=usage.completion_tokens,
                 total_tokens=usage.total_tokens) if usage else None


async def chat(info: Info, chat_input: ChatInput) -> ChatResult:
    ctx = info.context
    model = chat_model(ctx)
    messages = messages_of(chat_input)
    hits = await _ground(ctx, ctx.loaders, chat_input, messages)
    prompt = prompting.grounded_messages(messages, [h.chunk.record for h in hits])
    completion = await model.complete(
        prompt, model=chat_input.model, temperature=chat_input.temperature, json_mode=chat_input.json_mode,
        validate=prompting.require_json if chat_input.json_mode else None,
    )
    cited = prompting.cited_sources(completion.content, len(hits))
    return ChatResult(
        content=completion.content, model=completion.model, provider=completion.provider,
        usage=_usage(completion.usage), citations=[hits[i].citations[0] for i in cited],
    )


async def chat_stream(info: Info, chat_input: ChatInput) -> AsyncGenerator[ChatEvent, None]:
    ctx = info.context
    try:
        model = chat_model(ctx)
        messages = messages_of(chat_input)
        loaders = ctx.fresh_loaders()
        try:
            with deadline.request_deadline(ctx.settings.request_deadline_s):
                hits = await _ground(ctx, loaders, chat_input, messages)
        finally:
            loaders.close()
    except AppError as exc:
        yield _failed(exc)
        return
    if chat_input.retrieve is not None:
        yield ChatSources(hits=hits)
    prompt = prompting.grounded_messages(messages, [h.chunk.record for h in hits])
    try:
        async for part in model.stream(prompt, model=chat_input.model, temperature=chat_input.temperature):
            if isinstance(part, str):
                yield ChatDelta(text=part)
            else:
                yield ChatDone(finish_reason=part.finish_reason, usage=_usage(part.usage), model=part.model,
                               provider=part.provider)
    except AppError as exc:
        yield _failed(exc)


def _failed(exc: AppError) -> ChatFailed:
    retryable = exc.retryable if isinstance(exc, BackendError) else False
    return ChatFailed(code=exc.code, message=str(exc), retryable=retryable)
