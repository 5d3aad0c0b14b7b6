"""One deadline per request, split across stages: an overrunning stage is cancelled (the real upstream sees its
connection closed) and reported, with the data that was ready; ingestion is not cut by it."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace

import httpx
import pytest

from ragweave import deadline
from ragweave.datasources.chat import OpenAIChat, openai_client
from ragweave.datasources.lifecycle import Datasources
from ragweave.datasources.reranker import HttpReranker
from tests.corpus import seed_corpus
from tests.graphql import SETTINGS, execute
from tests.servers.openai_server import OpenAITestServer, hang
from tests.servers.rerank_server import RerankTestServer

CHAT = 'mutation { chat(input: {messages: [{role: "user", content: "hello"}]}) { content } }'
TEXTS = ["Mara Quist leads the Atlas Team.", "The Atlas Team builds Beacon Engine. Beacon Engine uses Tidewater."]
RERANKED = '{ retrieve(query: "plan", topK: 3) { hits { chunk { id } scores { fused rerank } } degraded } }'


async def test_a_stage_takes_its_share_of_the_time_left():
    assert deadline.remaining() is None
    with deadline.stage(0.5):
        assert deadline.remaining() is None  # no request deadline, nothing to share
    with deadline.request_deadline(10.0):
        assert 9.9 < deadline.remaining() <= 10.0
        with deadline.stage(0.5):
            assert 4.9 < deadline.remaining() <= 5.0
            with deadline.request_deadline(None):
                assert deadline.remaining() is None
        assert 9.9 < deadline.remaining() <= 10.0


async def test_a_backend_call_over_the_deadline_is_cancelled_with_the_backends_timeout_code():
    with deadline.request_deadline(0.05), pytest.raises(deadline.DeadlineExceeded) as raised:
        await deadline.bounded("graph", asyncio.sleep(5))
    assert raised.value.code == "GRAPH_TIMEOUT"


async def test_one_timer_cancels_every_call_waiting_under_the_deadline_in_any_task():
    loop = asyncio.get_running_loop()
    timers = []
    call_at = loop.call_at
    loop.call_at = lambda when, callback, *args, **kw: timers.append(callback) or call_at(when, callback, *args, **kw)
    try:
        with deadline.request_deadline(0.1):
            assert await deadline.bounded("llm", asyncio.sleep(0, "fast")) == "fast"
            calls = [asyncio.create_task(deadline.bounded(b, asyncio.sleep(5))) for b in ("graph", "vectors")]
            results = await asyncio.gather(*calls, return_exceptions=True)
    finally:
        loop.call_at = call_at
    assert [r.code for r in results] == ["GRAPH_TIMEOUT", "VECTORS_TIMEOUT"]
    assert [c.__qualname__ for c in timers if "Deadline" in c.__qualname__] == ["Deadline._expire"]


async def test_a_call_nested_in_another_and_one_left_running_by_its_request_are_cancelled_on_time():
    async def outer() -> None:
        await deadline.bounded("graph", deadline.bounded("graph", asyncio.sleep(5)))

    with deadline.request_deadline(0.05), pytest.raises(deadline.DeadlineExceeded):
        await outer()
    with deadline.request_deadline(0.1):
        straggler = asyncio.create_task(deadline.bounded("vectors", asyncio.sleep(5)))
        await asyncio.sleep(0)
    started = time.monotonic()
    with pytest.raises(deadline.DeadlineExceeded):
        await straggler  # the request's scope ended first; its deadline still holds for the call it started
    assert time.monotonic() - started < 1.0
    assert asyncio.current_task().cancelling() == 0


async def test_a_cancellation_from_elsewhere_stays_a_cancellation():
    with deadline.request_deadline(5.0):
        call = asyncio.create_task(deadline.bounded("llm", asyncio.sleep(5)))
        await asyncio.sleep(0)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call


async def test_an_answer_that_arrives_as_the_deadline_fires_is_refused_and_an_expired_deadline_starts_nothing():
    async def swallows_cancellation() -> str:
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            return "late"
        return "never"

    with deadline.request_deadline(0.05), pytest.raises(deadline.DeadlineExceeded):
        await deadline.bounded("graph", swallows_cancellation())
    assert asyncio.current_task().cancelling() == 0
    started = []

    async def call() -> None:
        started.append(True)

    with deadline.request_deadline(0.0), pytest.raises(deadline.DeadlineExceeded):
        await deadline.bounded("graph", call())
    assert started == []


async def test_chat_with_a_hanging_llm_ends_at_the_request_deadline_and_closes_the_upstream(
    datasources: Datasources, tenant: str
):
    with OpenAITestServer() as llm:
        async with openai_client(llm.base_url, "test", timeout=20.0, max_retries=0) as client:
            ds = replace(datasources, chat=OpenAIChat(client, "gpt-4o-mini", provider="test-server"))
            llm.script(hang())
            started = time.monotonic()
            response = await execute(ds, CHAT, tenant=tenant, settings=replace(SETTINGS, request_deadline_s=0.5))
            elapsed = time.monotonic() - started
            assert response.codes() == ["LLM_TIMEOUT"]
            assert elapsed < 5.0  # the client's own timeout is 20 s
            await llm.wait_for_cancel(within=2.0)


async def test_a_hanging_reranker_leaves_the_fused_order_and_is_reported(datasources: Datasources, tenant: str):
    await seed_corpus(datasources, tenant, size=6)
    with RerankTestServer() as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:
            ds = replace(datasources, reranker=HttpReranker(client))
            server.hang = True
            hurried = replace(SETTINGS, request_deadline_s=0.5)
            response = await execute(ds, RERANKED, tenant=tenant, settings=hurried)
            retrieval = response.ok()["retrieve"]
            assert retrieval["degraded"] == ["RERANKER_TIMEOUT"]
            fused = [h["scores"]["fused"] for h in retrieval["hits"]]
            assert len(fused) == 3 and fused == sorted(fused, reverse=True)
            assert all(h["scores"]["rerank"] is None for h in retrieval["hits"])
            for _ in range(100):
                if server.disconnects:
                    break
                await asyncio.sleep(0.02)
            assert server.disconnects, "the reranker request was left running"


async def test_a_graph_stage_over_its_share_is_cancelled_and_the_vector_hits_stand(datasources, tenant):
    await seed_corpus(datasources, tenant, size=6)
    hurried = replace(SETTINGS, graph_stage_share=1e-9)
    query = '{ retrieve(query: "plan", topK: 3) { hits { scores { graph } } subgraph { nodes { id } } degraded } }'
    response = await execute(datasources, query, tenant=tenant, settings=hurried)
    assert response.data["retrieve"]["degraded"] == ["GRAPH_TIMEOUT"]
    assert len(response.data["retrieve"]["hits"]) == 3
    assert response.codes() == ["GRAPH_TIMEOUT"]


async def test_ingestion_is_not_cut_by_the_request_deadline(datasources: Datasources, tenant: str):
    expired = replace(SETTINGS, request_deadline_s=1e-6)
    search = await execute(datasources, '{ search(query: "plan", topK: 1) { score } }', tenant=tenant,
                           settings=expired)
    assert search.codes() and all(code.endswith("_TIMEOUT") for code in search.codes())
    mutation = "mutation ($d: [DocumentInput!]!) { ingest(documents: $d) { documents chunks failures { stage } } }"
    docs = [{"id": f"deadline-{i}", "text": text, "title": "t"} for i, text in enumerate(TEXTS)]
    result = (await execute(datasources, mutation, {"d": docs}, tenant=tenant, settings=expired)).ok()["ingest"]
    assert result["documents"] == 2 and result["chunks"] > 0 and result["failures"] == []
