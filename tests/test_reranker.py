"""Rerankers: the HTTP (TEI-style) adapter against a real loopback server, and the embedded BM25 one."""

from __future__ import annotations

from dataclasses import replace

import httpx
import pytest

from ragweave.datasources.reranker import HttpReranker, LexicalReranker
from ragweave.errors import BackendUnavailable
from tests.corpus import seed_corpus
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


class _SendOrder:
    """Wraps a datasource, noting in `sent` each call of `methods` as it starts."""

    def __init__(self, inner: object, name: str, methods: set[str], sent: list[str]) -> None:
        self._inner, self._name, self._methods, self._sent = inner, name, methods, sent

    def __getattr__(self, attr: str):
        value = getattr(self._inner, attr)
        if attr not in self._methods:
            return value

        async def noted(*args, **kwargs):
            self._sent.append(f"{self._name}.{attr}")
            return await value(*args, **kwargs)

        return noted


async def test_the_hits_entities_are_asked_for_before_the_reranker_answers(datasources, tenant):
    """With `scores { rerank }` beside `chunk { entities }`, the entities of the vector hits go to the graph as soon
    as the hits are known, so that query runs while the reranker works, not after it (one call each)."""
    await seed_corpus(datasources, tenant, size=8)
    sent: list[str] = []
    ds = replace(datasources, graph=_SendOrder(datasources.graph, "graph", {"entities_of_chunks"}, sent),
                 reranker=_SendOrder(datasources.reranker, "reranker", {"rerank"}, sent))
    query = 'query { retrieve(query: "launch plan", topK: 4) { hits { scores { rerank } chunk { entities { id } } } } }'
    response = await execute(ds, query, tenant=tenant)
    hits = response.ok()["retrieve"]["hits"]
    assert len(hits) == 4 and all(h["scores"]["rerank"] is not None for h in hits)
    assert sent == ["graph.entities_of_chunks", "reranker.rerank"], sent
    assert response.calls["graph.entities_of_chunks"] == 1 and response.calls["reranker.rerank"] == 1
    plain = await execute(datasources, query, tenant=tenant)
    assert plain.ok() == response.ok()
