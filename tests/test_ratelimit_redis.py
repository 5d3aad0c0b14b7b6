"""The Redis-backed rate limiter against a real Redis server (the one FalkorDB runs as): replicas share one
budget; while Redis is down each replica limits on its own; when it is back the shared budget applies again."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from starlette.testclient import TestClient

from ragweave.app import create_app
from ragweave.datasources.falkordb_process import EmbeddedFalkorDB
from ragweave.datasources.lifecycle import Datasources
from ragweave.datasources.reranker import LexicalReranker
from ragweave.ratelimit import RateLimiter, RedisRateLimiter, limiter_for
from ragweave.settings import Settings
from tests.graphql import execute


@pytest.fixture
async def redis_server(tmp_path: Path):
    server = EmbeddedFalkorDB(tmp_path / "redis")
    await server.start()
    yield server
    await server.stop()


def url_of(server: EmbeddedFalkorDB) -> str:
    return f"redis://{server.host}:{server.port}/0"


async def test_two_replicas_share_one_budget(redis_server):
    replicas = [RedisRateLimiter(url_of(redis_server), per_second=1, burst=10) for _ in range(2)]
    caller = f"key-{uuid.uuid4().hex[:8]}"
    try:
        assert await replicas[0].take(caller, 6) == 0.0
        wait = await replicas[1].take(caller, 6)  # a per-replica bucket would still hold 10
        assert 1.5 < wait <= 2.1
        assert await replicas[1].take("someone-else", 6) == 0.0
        assert await replicas[1].take(caller, 4) == 0.0
        assert await replicas[0].take(caller, 1) > 0.0
    finally:
        for limiter in replicas:
            await limiter.aclose()


async def test_a_redis_outage_falls_back_to_per_replica_buckets_and_recovers(tmp_path, caplog):
    server = EmbeddedFalkorDB(tmp_path / "redis")
    await server.start()
    limiter = RedisRateLimiter(url_of(server), per_second=1, burst=10, fallback_for_s=0.2)
    try:
        assert await limiter.take("k", 10) == 0.0
        port = server.port
        await server.stop()
        with caplog.at_level(logging.WARNING, logger="ragweave"):
            assert await limiter.take("k", 10) == 0.0  # the replica's own full bucket
        assert not limiter.shared and "Redis unreachable" in caplog.text
        assert await limiter.take("k", 10) > 0.0  # ... which is a real limit too

        server = EmbeddedFalkorDB(tmp_path / "redis", port=port)
        await server.start()
        await asyncio.sleep(0.25)
        assert limiter.shared
        assert await limiter.take("k", 10) > 0.0  # the shared bucket survived in Redis (AOF), still spent
    finally:
        await limiter.aclose()
        await server.stop()


async def test_sockets_left_from_before_a_redis_restart_do_not_drop_to_per_replica_limits(tmp_path, caplog):
    server = EmbeddedFalkorDB(tmp_path / "redis")
    await server.start()
    limiter = RedisRateLimiter(url_of(server), per_second=1, burst=10)
    try:
        await asyncio.gather(*(limiter.take(f"k{n}", 1) for n in range(4)))  # four pooled sockets
        port = server.port
        await server.stop()
        server = EmbeddedFalkorDB(tmp_path / "redis", port=port)
        await server.start()
        with caplog.at_level(logging.WARNING, logger="ragweave"):
            await asyncio.gather(*(limiter.take(f"k{n}", 1) for n in range(4)))
        assert limiter.shared and "Redis unreachable" not in caplog.text
    finally:
        await limiter.aclose()
        await server.stop()


async def test_rate_limited_operations_across_replicas_through_the_schema(datasources, tenant, redis_server):
    query = '{ search(query: "plan", topK: 10) { score } }'
    cost = (await execute(datasources, query, tenant=tenant)).extensions["cost"]["estimated"]
    replicas = [RedisRateLimiter(url_of(redis_server), per_second=1, burst=cost) for _ in range(2)]
    try:
        assert (await execute(datasources, query, tenant=tenant, limiter=replicas[0])).ok()
        second = await execute(datasources, query, tenant=tenant, limiter=replicas[1])
        assert second.codes() == ["RATE_LIMITED"] and second.errors[0]["extensions"]["retryAfter"] > 1
    finally:
        for limiter in replicas:
            await limiter.aclose()


def test_the_limiter_follows_the_settings():
    assert limiter_for(None, 0, 10) is None
    assert isinstance(limiter_for(None, 5, 10), RateLimiter)
    settings = Settings.from_env({"RAGWEAVE_REDIS_URL": "redis://127.0.0.1:6390/0"})
    assert isinstance(limiter_for(settings.redis_url, 5, 10), RedisRateLimiter)


def test_the_app_limits_through_redis_when_configured(tmp_path, redis_server):
    settings = Settings(data_dir=tmp_path, dev_mode=True, redis_url=url_of(redis_server), rate_per_s=1,
                        rate_burst=2, graphql_ide=False)
    query = '{ rerank(query: "tide", documents: ["tide tables", "cargo"]) { score } }'  # costs 2
    with TestClient(create_app(settings, open_ds=reranker_only), client=("127.0.0.1", 50000)) as client:
        codes = [
            (client.post("/graphql", json={"query": query}).json().get("errors") or [{}])[0]
            .get("extensions", {}).get("code")
            for _ in range(2)
        ]
    assert codes == [None, "RATE_LIMITED"]
    keys = asyncio.run(_bucket_keys(redis_server))
    assert keys, "the bucket was not kept in Redis"


@asynccontextmanager
async def reranker_only(_: Settings) -> AsyncIterator[Datasources]:
    yield Datasources(vectors=None, graph=None, embedder=None, chat=None, reranker=LexicalReranker())  # type: ignore[arg-type]


async def _bucket_keys(server: EmbeddedFalkorDB) -> list[bytes]:
    client = aioredis.Redis(host=server.host, port=server.port)
    try:
        return await client.keys("ragweave:rate:*")
    finally:
        await client.aclose()
