"""Chat completions over an OpenAI-compatible endpoint (blocking and streamed)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import aclosing
from typing import Any, Protocol

import httpx
import openai

from ragweave import records
from ragweave.datasources.calls import counted, record_call
from ragweave.datasources.llm_http import llm_http_client
from ragweave.errors import AppError, BackendTimeout, BackendUnavailable
from ragweave.observability import record_llm_usage


class ChatModel(Protocol):
    model: str
    provider: str

    async def complete(
        self, messages: Sequence[records.ChatMessage], *, model: str | None = None,
        temperature: float | None = None, json_mode: bool = False,
        validate: Callable[[str], object] | None = None, hedge: bool = True,
        json_schema: dict[str, Any] | None = None,
    ) -> records.Completion:
        """`json_schema` constrains the output where the provider supports it; `validate` raises BadLLMOutput
        on an unusable answer, so an invalid answer never wins a hedge."""
        ...

    def stream(
        self, messages: Sequence[records.ChatMessage], *, model: str | None = None,
        temperature: float | None = None,
    ) -> AsyncIterator[str | records.Completion]:
        """Yields text deltas, then one final Completion (content empty, usage and finish reason set)."""
        ...


def openai_client(
    base_url: str, api_key: str, *, timeout: float, max_retries: int, max_connections: int = 1000
) -> openai.AsyncOpenAI:
    """The official client on its aiohttp backend (`openai[aiohttp]`), a third of httpx's CPU per call here."""
    return openai.AsyncOpenAI(
        base_url=base_url, api_key=api_key, timeout=timeout, max_retries=max_retries,
        http_client=llm_http_client(max_connections),
    )


def translate(exc: openai.APIError) -> AppError:
    if isinstance(exc, openai.APITimeoutError):
        return BackendTimeout("llm", "the LLM endpoint did not answer in time")
    retryable = isinstance(exc, openai.APIConnectionError | openai.RateLimitError | openai.InternalServerError)
    return BackendUnavailable("llm", f"the LLM endpoint failed: {type(exc).__name__}", retryable=retryable)


def _usage_of(raw: dict[str, Any] | None) -> records.Usage | None:
    if not raw:
        return None
    return records.Usage(raw.get("prompt_tokens", 0), raw.get("completion_tokens", 0), raw.get("total_tokens", 0))


ALIASES = ("chat", "extract", "embed")


class OpenAIChat:
    def __init__(self, client: openai.AsyncOpenAI, model: str, provider: str) -> None:
        self.client = client
        self.model = model
        self.provider = provider

    def _request(self, messages, model, temperature) -> dict[str, Any]:
        request: dict[str, Any] = {
            "model": self.model if model is None or model in ALIASES else model,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
        }
        if temperature is not None:
            request["temperature"] = temperature
        return request

    @counted("llm.chat")
    async def complete(
        self, messages, *, model=None, temperature=None, json_mode=False, validate=None, hedge=True, json_schema=None
    ) -> records.Completion:
        request = self._request(messages, model, temperature)
        if json_schema is not None:
            request["response_format"] = {"type": "json_schema", "json_schema": json_schema}
        elif json_mode:
            request["response_format"] = {"type": "json_object"}
        try:
            # The client's documented raw call: its retries, Retry-After, auth and error types, without building
            # the SDK's request and response models (the most CPU a chat call costs here).
            response = await self.client.post("/chat/completions", body=request, cast_to=httpx.Response)
            body = response.json()
        except openai.APIError as exc:
            raise translate(exc) from exc
        except ValueError as exc:
            raise BackendUnavailable("llm", "the LLM endpoint answered with invalid JSON") from exc
        try:
            choice = body["choices"][0]
            content = choice["message"].get("content") or ""
            model_used = body.get("model") or request["model"]
            usage = _usage_of(body.get("usage"))
        except (KeyError, IndexError, TypeError, AttributeError) as exc:
            raise BackendUnavailable("llm", "the LLM endpoint answered without a chat completion") from exc
        if usage is not None:  # spent even if the answer is then refused
            record_llm_usage(self.provider, model_used, usage.prompt_tokens, usage.completion_tokens)
        if validate is not None:
            validate(content)
        return records.Completion(
            content=content, model=model_used, provider=self.provider,
            finish_reason=choice.get("finish_reason") or "stop", usage=usage,
        )

    async def stream(self, messages, *, model=None, temperature=None) -> AsyncIterator[str | records.Completion]:
        request = self._request(messages, model, temperature)
        record_call("llm.chat_stream")
        try:
            # The client's own request path (retries, timeouts, errors, error events, [DONE]) with chunks left as
            # dicts: building a ChatCompletionChunk model per token cost more CPU than the rest of the stream.
            stream = await self.client.post(
                "/chat/completions", body={**request, "stream": True, "stream_options": {"include_usage": True}},
                cast_to=object, stream=True, stream_cls=openai.AsyncStream[object],
            )
            finish, usage, model_used = "stop", None, request["model"]
            async with aclosing(stream) as chunks:
                async for chunk in chunks:
                    if not isinstance(chunk, dict):
                        continue
                    model_used = chunk.get("model") or model_used
                    usage = _usage_of(chunk.get("usage")) or usage
                    for choice in chunk.get("choices") or ():
                        finish = choice.get("finish_reason") or finish
                        content = (choice.get("delta") or {}).get("content")
                        if content:
                            yield content
        except openai.APIError as exc:
            raise translate(exc) from exc
        if usage is not None:
            record_llm_usage(self.provider, model_used, usage.prompt_tokens, usage.completion_tokens)
        yield records.Completion("", model_used, self.provider, finish, usage)
