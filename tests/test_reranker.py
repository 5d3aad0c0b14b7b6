"""Rerankers: the HTTP (TEI-style) adapter against a real loopback server, and the embedded BM25 one."""

from __future__ import annotations

from dataclasses import replace

import httpx
import pytest

from ragweave.datasources.reranker import HttpReranker, LexicalReranker
from ragweave.errors import BackendUnavailable
from tests.graphql import execute
from tests.servers.rerank_server import RerankTestServer

DOCS = ["the tide tables for Portwick", "", "cargo manifests", "the tide tables for Portwick", "tide"]
RERANK = 'query ($d: [String!]!) { rerank(query: "tide tables", documents: $d, topN: 3) { index score document } }'


async def test_http_reranker_keeps_the_callers_indexes():
    with RerankTestServer() as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=5) as client:
            scores = await HttpReranker(client).rerank("tide tables", DOCS)
        assert [s.index for s in scores] == [0, 1, 2, 3, 4]
        assert scores[0].score == scores[3].score > scores[4].score > scores[2].score == scores[1].score == 0.0
        assert server.requests == [{"query": "tide tables", "texts": DOCS}]


async def test_http_reranker_failures_are_coded():
    with RerankTestServer() as server:
        server.fail_with = 503
        async with httpx.AsyncClient(base_url=server.url, timeout=5) as client:
            with pytest.raises(BackendUnavailable) as raised:
                await HttpReranker(client).rerank("q", ["a"])
    assert raised.value.code == "RERANKER_UNAVAILABLE"


async def test_rerank_field_over_http_reranker_and_bm25(datasources, tenant):
    with RerankTestServer() as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=5) as client:
            remote = replace(datasources, reranker=HttpReranker(client))
            data = (await execute(remote, RERANK, {"d": DOCS}, tenant=tenant)).ok()["rerank"]
    assert [r["index"] for r in data] == [0, 3, 4] and data[0]["document"] == DOCS[0]
    local = replace(datasources, reranker=LexicalReranker())
    data = (await execute(local, RERANK, {"d": DOCS}, tenant=tenant)).ok()["rerank"]
    assert [(r["index"], r["score"]) for r in data][:2] == [(0, 1.0), (3, 1.0)]
