"""The OpenAI-compatible test server, exercised over HTTP by the real `openai.AsyncOpenAI` client."""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import AsyncIterator, Iterator

import httpx2
import openai
import pytest

from tests.servers.openai_server import (
    OpenAITestServer,
    drop_stream,
    embed_text,
    hang,
    ok,
    slow_stream,
    status,
)

USER = [{"role": "user", "content": "what is the capital of France"}]


@pytest.fixture
def server() -> Iterator[OpenAITestServer]:
    with OpenAITestServer() as running:
        yield running


@pytest.fixture
async def client(server: OpenAITestServer) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(base_url=server.base_url, api_key="test", max_retries=0, timeout=5.0) as api:
        yield api


async def test_chat_completion_echoes_and_counts_words(server: OpenAITestServer, client: openai.AsyncOpenAI) -> None:
    response = await client.chat.completions.create(model="gpt-test", messages=USER)
    assert response.choices[0].message.content == "Echo: what is the capital of France"
    assert response.choices[0].finish_reason == "stop"
    assert response.model == "gpt-test"
    assert (response.usage.prompt_tokens, response.usage.completion_tokens, response.usage.total_tokens) == (6, 7, 13)
    [recorded] = server.requests
    assert recorded.path == "/v1/chat/completions"
    assert recorded.body["messages"] == USER
    assert recorded.headers["authorization"] == "Bearer test"


async def test_configured_reply_script_text_and_json_mode(server: OpenAITestServer, client: openai.AsyncOpenAI) -> None:
    server.reply_with("fixed answer")
    server.reply_json({"entities": ["Paris"]})
    server.script(ok("scripted once"))
    first = await client.chat.completions.create(model="m", messages=USER)
    second = await client.chat.completions.create(model="m", messages=USER)
    as_json = await client.chat.completions.create(model="m", messages=USER, response_format={"type": "json_object"})
    assert first.choices[0].message.content == "scripted once"
    assert second.choices[0].message.content == "fixed answer"
    assert json.loads(as_json.choices[0].message.content) == {"entities": ["Paris"]}


async def test_stream_sends_word_deltas_then_usage(server: OpenAITestServer, client: openai.AsyncOpenAI) -> None:
    stream = await client.chat.completions.create(
        model="m", messages=USER, stream=True, stream_options={"include_usage": True}
    )
    chunks = [chunk async for chunk in stream]
    deltas = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert "".join(deltas) == "Echo: what is the capital of France"
    assert len(deltas) == 7
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens == 13
    assert server.completed_streams == 1 and server.cancelled == []


async def test_embeddings_default_base64_keep_order(server: OpenAITestServer, client: openai.AsyncOpenAI) -> None:
    texts = ["alpha beta", "gamma", "alpha beta delta"]
    response = await client.embeddings.create(model="emb", input=texts)
    assert server.requests[0].body["encoding_format"] == "base64"
    vectors = [item.embedding for item in response.data]
    assert [item.index for item in response.data] == [0, 1, 2]
    assert all(len(v) == 384 for v in vectors)
    for vector, text in zip(vectors, texts, strict=True):
        assert vector == pytest.approx(embed_text(text), abs=1e-6)
        assert math.fsum(x * x for x in vector) == pytest.approx(1.0, abs=1e-5)
    assert response.usage.prompt_tokens == 6
    again = await client.embeddings.create(model="emb", input=texts[::-1])
    assert [item.embedding for item in again.data] == vectors[::-1]


async def test_embeddings_float_format_and_dimensions(server: OpenAITestServer, client: openai.AsyncOpenAI) -> None:
    response = await client.embeddings.create(model="emb", input="alpha", encoding_format="float", dimensions=16)
    assert response.data[0].embedding == pytest.approx(embed_text("alpha", 16))
    shared = await client.embeddings.create(model="emb", input=["alpha beta", "alpha gamma", "delta epsilon"])
    a, b, c = (item.embedding for item in shared.data)
    assert sum(x * y for x, y in zip(a, b, strict=True)) > sum(x * y for x, y in zip(a, c, strict=True)) + 0.2


async def test_rate_limit_carries_retry_after(server: OpenAITestServer, client: openai.AsyncOpenAI) -> None:
    server.script(status(429, retry_after=3))
    with pytest.raises(openai.RateLimitError) as caught:
        await client.chat.completions.create(model="m", messages=USER)
    assert caught.value.response.headers["retry-after"] == "3"
    assert caught.value.code == "rate_limit_exceeded"
    assert caught.value.body["type"] == "requests"


async def test_client_retry_honours_retry_after(server: OpenAITestServer) -> None:
    server.script(status(429, retry_after=0.2), ok("after retry"))
    async with openai.AsyncOpenAI(base_url=server.base_url, api_key="test", max_retries=1, timeout=5.0) as retrying:
        response = await retrying.chat.completions.create(model="m", messages=USER)
    assert response.choices[0].message.content == "after retry"
    first, second = server.requests
    assert second.received_at - first.received_at >= 0.2


async def test_server_error_is_internal_server_error(server: OpenAITestServer, client: openai.AsyncOpenAI) -> None:
    server.script(status(500))
    with pytest.raises(openai.InternalServerError) as caught:
        await client.embeddings.create(model="emb", input="x")
    assert caught.value.status_code == 500
    assert caught.value.body["type"] == "server_error"


async def test_script_can_target_one_endpoint(server: OpenAITestServer, client: openai.AsyncOpenAI) -> None:
    server.script(status(503), endpoint="chat")
    await client.embeddings.create(model="emb", input="not affected")
    with pytest.raises(openai.InternalServerError):
        await client.chat.completions.create(model="m", messages=USER)
    await client.chat.completions.create(model="m", messages=USER)


async def test_hang_times_out_and_disconnect_is_recorded(server: OpenAITestServer, client: openai.AsyncOpenAI) -> None:
    server.script(hang())
    with pytest.raises(openai.APITimeoutError):
        await client.chat.completions.create(model="m", messages=USER, timeout=0.3)
    event = await server.wait_for_cancel(1.0)
    assert event.kind == "hang"
    assert 0.25 <= event.after < 1.3


async def test_closing_a_stream_early_cancels_upstream(server: OpenAITestServer, client: openai.AsyncOpenAI) -> None:
    server.script(slow_stream(0.05))
    stream = await client.chat.completions.create(model="m", messages=USER, stream=True)
    received = 0
    async for _chunk in stream:
        received += 1
        if received == 2:
            break
    closed_at = time.monotonic()
    await stream.close()
    event = await server.wait_for_cancel(1.0)
    assert event.kind == "stream" and event.chunks_sent < 5
    assert event.at - closed_at < 1.0
    assert server.completed_streams == 0


async def test_dropped_stream_raises_connection_error(server: OpenAITestServer, client: openai.AsyncOpenAI) -> None:
    server.script(drop_stream(after_chunks=2))
    stream = await client.chat.completions.create(model="m", messages=USER, stream=True)
    seen: list[str] = []
    with pytest.raises(openai.APIConnectionError) as caught:
        async for chunk in stream:
            seen.append(chunk.choices[0].delta.content)
    assert seen == ["", "Echo: "]
    assert isinstance(caught.value.__cause__, httpx2.RemoteProtocolError)
    assert server.completed_streams == 0


async def test_latency_and_first_token_latency(server: OpenAITestServer, client: openai.AsyncOpenAI) -> None:
    server.latency = 0.1
    server.first_token_latency = 0.2
    started = time.monotonic()
    stream = await client.chat.completions.create(model="m", messages=USER, stream=True)
    headers_at = time.monotonic()
    first = await anext(aiter(stream))
    assert first.choices[0].delta.role == "assistant"
    assert headers_at - started >= 0.1
    assert time.monotonic() - headers_at >= 0.15
    await stream.close()


async def test_chunk_delay_spaces_every_event_after_the_first(
    server: OpenAITestServer, client: openai.AsyncOpenAI
) -> None:
    server.chunk_delay = 0.05
    started = time.monotonic()
    stream = await client.chat.completions.create(model="m", messages=USER, stream=True)
    chunks = [chunk async for chunk in stream]
    assert time.monotonic() - started >= 0.05 * (len(chunks) - 1) * 0.9
    server.reset()
    assert server.chunk_delay == 0.0


async def test_two_servers_are_independent(server: OpenAITestServer, client: openai.AsyncOpenAI) -> None:
    server.script(status(500))
    with OpenAITestServer() as fallback:
        assert fallback.base_url != server.base_url
        async with openai.AsyncOpenAI(base_url=fallback.base_url, api_key="test", max_retries=0) as other:
            with pytest.raises(openai.InternalServerError):
                await client.chat.completions.create(model="m", messages=USER)
            response = await other.chat.completions.create(model="m", messages=USER)
        assert response.choices[0].message.content.startswith("Echo:")
        assert len(server.requests) == len(fallback.requests) == 1


async def test_models_endpoint_lists_models(server: OpenAITestServer, client: openai.AsyncOpenAI) -> None:
    models = [model.id async for model in client.models.list()]
    assert models == server.models


async def test_unknown_endpoint_is_an_openai_shaped_404(client: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        await client.completions.create(model="m", prompt="legacy endpoint")
    assert caught.value.body["message"] == "Invalid URL (POST /v1/completions)"


async def test_stop_releases_a_hung_request() -> None:
    server = OpenAITestServer().start()
    server.script(hang())
    async with openai.AsyncOpenAI(base_url=server.base_url, api_key="test", max_retries=0, timeout=5.0) as api:
        pending = asyncio.ensure_future(api.chat.completions.create(model="m", messages=USER))
        await server.wait_for_requests(1)
        started = time.monotonic()
        await asyncio.to_thread(server.stop)
        assert time.monotonic() - started < 2.0
        with pytest.raises(openai.InternalServerError):
            await pending
