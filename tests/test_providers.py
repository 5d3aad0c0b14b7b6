"""The provider chain against two real OpenAI-compatible servers: fallback, retries, hedging, breaker, limits."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ragweave import deadline, records
from ragweave.datasources.chat import OpenAIChat
from ragweave.datasources.embeddings import ChainEmbedder, OpenAIEmbedder
from ragweave.datasources.lifecycle import _open_llm
from ragweave.datasources.providers import CircuitBreaker, Provider, ProviderChain
from ragweave.errors import BackendTimeout, BackendUnavailable, BadLLMOutput
from ragweave.resolvers.prompting import require_json
from ragweave.settings import Settings, SettingsError
from tests.llm_clients import tracked_client
from tests.servers.openai_server import OpenAITestServer, hang, ok, status

pytestmark = pytest.mark.usefixtures("close_llm_clients")

HELLO = [records.ChatMessage("user", "hello")]


@pytest.fixture
def servers() -> Iterator[tuple[OpenAITestServer, OpenAITestServer]]:
    with OpenAITestServer() as primary, OpenAITestServer() as secondary:
        yield primary, secondary


def provider(server: OpenAITestServer, name: str, *, retries: int = 0, timeout: float = 3.0, limit: int = 16,
             stream_limit: int = 1000):
    client = tracked_client(server.base_url, timeout=timeout, retries=retries)
    models = {"chat": "gpt-4o-mini", "extract": "gpt-4o-mini", "embed": "text-embedding-3-small"}
    return Provider(name, OpenAIChat(client, "gpt-4o-mini", name), models, asyncio.Semaphore(limit),
                    stream_limit=asyncio.Semaphore(stream_limit))


async def test_falls_back_to_the_next_provider_on_5xx(servers):
    primary, secondary = servers
    primary.script(status(500))
    chain = ProviderChain([provider(primary, "p1"), provider(secondary, "p2")], hedge_delay_s=5)
    completion = await chain.complete(HELLO)
    assert completion.provider == "p2" and completion.content == "Echo: hello"
    assert len(primary.requests) == 1 and len(secondary.requests) == 1


async def test_429_is_retried_after_retry_after(servers):
    primary, _ = servers
    primary.script(status(429, retry_after=0.4), ok())
    chain = ProviderChain([provider(primary, "p1", retries=1)])
    started = time.monotonic()
    completion = await chain.complete(HELLO)
    assert completion.provider == "p1" and time.monotonic() - started >= 0.4
    assert len(primary.requests) == 2


async def test_a_500_then_success_is_retried_on_the_same_provider(servers):
    primary, secondary = servers
    primary.script(status(500), ok())
    chain = ProviderChain([provider(primary, "p1", retries=1), provider(secondary, "p2")], hedge_delay_s=None)
    assert (await chain.complete(HELLO, hedge=False)).provider == "p1"
    assert len(primary.requests) == 2 and secondary.requests == []


async def test_a_hanging_provider_times_out_within_its_deadline(servers):
    primary, secondary = servers
    primary.script(hang())
    alone = ProviderChain([provider(primary, "p1", timeout=0.5)], hedge_delay_s=None)
    started = time.monotonic()
    with pytest.raises(BackendTimeout):
        await alone.complete(HELLO, hedge=False)
    assert time.monotonic() - started < 2.0
    primary.script(hang())
    chain = ProviderChain([provider(primary, "p1", timeout=0.5), provider(secondary, "p2")], hedge_delay_s=None)
    assert (await chain.complete(HELLO, hedge=False)).provider == "p2"


async def test_the_requests_deadline_running_out_does_not_open_the_providers_breaker(servers):
    primary, _ = servers
    p1 = provider(primary, "p1", timeout=10.0)
    chain = ProviderChain([p1], hedge_delay_s=None)
    for _ in range(p1.breaker.threshold + 1):
        primary.script(hang())
        with deadline.request_deadline(0.2), pytest.raises(deadline.DeadlineExceeded):
            await chain.complete(HELLO, hedge=False)
    assert p1.breaker.failures == 0 and p1.breaker.allows()


async def test_hedging_answers_at_the_speed_of_the_fastest_and_closes_the_loser(servers):
    primary, secondary = servers
    primary.script(ok(delay=3.0))
    chain = ProviderChain([provider(primary, "slow"), provider(secondary, "fast")], hedge_delay_s=0.2)
    started = time.monotonic()
    completion = await chain.complete(HELLO)
    elapsed = time.monotonic() - started
    assert completion.provider == "fast" and elapsed < 1.5
    cancel = await primary.wait_for_cancel(1.0)
    assert cancel.kind == "delay"


async def test_a_fast_but_invalid_answer_does_not_win(servers):
    primary, secondary = servers
    primary.reply_json("{definitely not json")
    secondary.reply_json({"ok": True})
    secondary.script(ok(delay=0.3))
    chain = ProviderChain([provider(primary, "fast-invalid"), provider(secondary, "valid")], hedge_delay_s=0.1)
    completion = await chain.complete(HELLO, json_mode=True, validate=require_json)
    assert completion.provider == "valid" and json.loads(completion.content) == {"ok": True}
    primary.reply_json("{definitely not json")
    only_invalid = ProviderChain([provider(primary, "fast-invalid")])
    with pytest.raises(BadLLMOutput):
        await only_invalid.complete(HELLO, json_mode=True, validate=require_json)


async def test_a_provider_that_keeps_failing_is_skipped_for_a_cool_down(servers):
    primary, secondary = servers
    failing = provider(primary, "p1")
    failing.breaker = CircuitBreaker(threshold=2, cooldown_s=60)
    chain = ProviderChain([failing, provider(secondary, "p2")], hedge_delay_s=None)
    primary.script(status(500), status(500))
    for _ in range(4):
        assert (await chain.complete(HELLO, hedge=False)).provider == "p2"
    assert len(primary.requests) == 2  # skipped after the breaker opened
    assert [(h.name, h.ok) for h in chain.health()] == [("llm:p1", False), ("llm:p2", True)]


async def test_outbound_concurrency_per_provider_is_bounded(servers):
    primary, _ = servers
    primary.latency = 0.3
    chain = ProviderChain([provider(primary, "p1", limit=2)])
    started = time.monotonic()
    await asyncio.gather(*(chain.complete(HELLO) for _ in range(4)))
    assert time.monotonic() - started >= 0.6  # two waves of two
    received = sorted(r.received_at for r in primary.requests)
    assert received[2] - received[0] >= 0.25


async def test_streams_have_their_own_limit_apart_from_other_calls(servers):
    primary, _ = servers
    primary.first_token_latency = 0.3
    chain = ProviderChain([provider(primary, "p1", limit=1, stream_limit=3)])

    async def drain() -> list:
        return [part async for part in chain.stream(HELLO)]

    started = time.monotonic()
    streams = [asyncio.create_task(drain()) for _ in range(4)]
    await primary.wait_for_requests(3, within=1.0)
    assert (await chain.complete(HELLO)).content == "Echo: hello"  # not behind the three open streams
    assert time.monotonic() - started < 0.25
    await asyncio.gather(*streams)
    assert time.monotonic() - started >= 0.55  # the fourth stream waited for a slot: two waves
    received = sorted(r.received_at for r in primary.requests if r.body.get("stream"))
    assert len(received) == 4 and received[3] - received[0] >= 0.25


async def test_a_stream_sends_plain_openai_json_with_the_key_and_reads_usage(servers):
    primary, _ = servers
    parts = [part async for part in ProviderChain([provider(primary, "p1")]).stream(HELLO, temperature=0.5)]
    assert "".join(p for p in parts if isinstance(p, str)) == "Echo: hello"
    done = parts[-1]
    assert (done.model, done.finish_reason, done.usage.total_tokens) == ("gpt-4o-mini", "stop", 3)
    request = primary.requests[-1]
    assert request.body == {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello"}],
                            "temperature": 0.5, "stream": True, "stream_options": {"include_usage": True}}
    assert request.headers["authorization"] == "Bearer t"


async def test_the_connection_pool_holds_every_permitted_call_and_stream():
    env = {"OPENAI_BASE_URL": "http://127.0.0.1:9/v1", "RAGWEAVE_PROVIDER_CONCURRENCY": "3",
           "RAGWEAVE_STREAM_CONCURRENCY": "1500"}
    async with contextlib.AsyncExitStack() as stack:
        _, chain, _ = await _open_llm(Settings.from_env(env), stack)
        client = chain.providers[0].chat.client
        assert client.timeout == 30.0 and client.max_retries == 2
        assert client._client._transport.limits.max_connections == 1503  # the aiohttp transport's connector limit


async def test_streams_fall_back_silently_before_the_first_token(servers):
    primary, secondary = servers
    primary.script(status(503))
    chain = ProviderChain([provider(primary, "p1"), provider(secondary, "p2")])
    parts = [part async for part in chain.stream(HELLO)]
    assert "".join(p for p in parts if isinstance(p, str)) == "Echo: hello"
    assert parts[-1].provider == "p2"


async def test_embeddings_fall_back_and_keep_order(servers):
    primary, secondary = servers
    primary.script(status(500))
    pairs = []
    for server in (primary, secondary):
        client = tracked_client(server.base_url, timeout=600)
        pairs.append((CircuitBreaker(), OpenAIEmbedder(client, "text-embedding-3-small", 384, batch_size=2)))
    vectors = await ChainEmbedder(pairs, 384).embed_many(["a b", "c", "d e f", "a b"])
    assert len(vectors) == 4 and vectors[0] == vectors[3] and vectors[0] != vectors[1]
    assert len(secondary.requests) == 2  # batched to the input limit


async def test_every_provider_failing_is_a_coded_error(servers):
    primary, secondary = servers
    primary.script(status(500))
    secondary.script(status(502))
    chain = ProviderChain([provider(primary, "p1"), provider(secondary, "p2")], hedge_delay_s=None)
    with pytest.raises(BackendUnavailable) as raised:
        await chain.complete(HELLO, hedge=False)
    assert raised.value.code == "LLM_UNAVAILABLE"


def test_providers_are_read_from_json_or_a_file(tmp_path: Path):
    spec = [
        {"name": "a", "base_url": "http://127.0.0.1:1/v1", "api_key_env": "A_KEY", "models": {"chat": "m1"}},
        {"name": "b", "base_url": "http://127.0.0.1:2/v1", "api_key": "k2", "models": {"chat": "m2"}},
    ]
    settings = Settings.from_env({"RAGWEAVE_PROVIDERS": json.dumps(spec), "A_KEY": "secret"})
    assert [(p.name, p.api_key, p.models["chat"]) for p in settings.provider_configs()] == [
        ("a", "secret", "m1"),
        ("b", "k2", "m2"),
    ]
    path = tmp_path / "providers.json"
    path.write_text(json.dumps(spec))
    assert Settings.from_env({"RAGWEAVE_PROVIDERS": f"@{path}"}).provider_configs()[1].name == "b"
    only_openai = Settings.from_env({"OPENAI_BASE_URL": "http://127.0.0.1:3/v1"}).provider_configs()
    assert [p.name for p in only_openai] == ["openai"]
    assert Settings.from_env({}).provider_configs() == ()
    for bad in ("not json", "[]", '[{"name": "x"}]', "@/nonexistent/file.json"):
        with pytest.raises(SettingsError, match="RAGWEAVE_PROVIDERS"):
            Settings.from_env({"RAGWEAVE_PROVIDERS": bad})


def test_bad_settings_name_the_variable():
    for env, name in (
        ({"RAGWEAVE_PORT": "eighty"}, "RAGWEAVE_PORT"),
        ({"RAGWEAVE_DEBUG_EXTENSIONS": "maybe"}, "RAGWEAVE_DEBUG_EXTENSIONS"),
        ({"RAGWEAVE_LLM_TIMEOUT_S": "-1"}, "RAGWEAVE_LLM_TIMEOUT_S"),
    ):
        with pytest.raises(SettingsError, match=name):
            Settings.from_env(env)
