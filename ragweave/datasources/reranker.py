"""Rerankers: a TEI/Cohere-style `/rerank` HTTP endpoint (httpx), or embedded BM25 lexical scoring.

Scores: the HTTP reranker passes the service's relevance scores through (TEI: sigmoid of the cross-encoder
logit, 0..1). The lexical reranker scores Okapi BM25 (k1=1.2, b=0.75) over the submitted documents only and
divides by the best score, so the best match is 1.0 and a document sharing no query term is 0.0.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from typing import Protocol

import httpx

from ragweave import records
from ragweave.datasources.calls import counted
from ragweave.errors import BackendTimeout, BackendUnavailable

_TOKEN = re.compile(r"\w+", re.UNICODE)


class Reranker(Protocol):
    name: str

    async def rerank(self, query: str, documents: Sequence[str]) -> list[records.RerankScore]:
        """One score per document, aligned with `documents` (not sorted)."""
        ...


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def bm25_scores(query: str, documents: Sequence[str], k1: float = 1.2, b: float = 0.75) -> list[float]:
    docs = [Counter(tokens(d)) for d in documents]
    lengths = [sum(d.values()) for d in docs]
    average = (sum(lengths) / len(docs)) if docs else 0.0
    query_terms = set(tokens(query))
    scores = []
    for doc, length in zip(docs, lengths, strict=True):
        score = 0.0
        for term in query_terms:
            tf = doc.get(term, 0)
            if tf:
                df = sum(1 for d in docs if term in d)
                idf = math.log(1 + (len(docs) - df + 0.5) / (df + 0.5))
                score += idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * length / (average or 1)))
        scores.append(score)
    return scores


class LexicalReranker:
    name = "bm25"

    @counted("reranker.rerank")
    async def rerank(self, query: str, documents: Sequence[str]) -> list[records.RerankScore]:
        raw = bm25_scores(query, documents)
        best = max(raw, default=0.0) or 1.0
        return [records.RerankScore(i, s / best) for i, s in enumerate(raw)]


class HttpReranker:
    name = "http"

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    @counted("reranker.rerank")
    async def rerank(self, query: str, documents: Sequence[str]) -> list[records.RerankScore]:
        try:
            response = await self.client.post("/rerank", json={"query": query, "texts": list(documents)})
            response.raise_for_status()
        except httpx.TimeoutException as exc:
            raise BackendTimeout("reranker", "the reranker did not answer in time") from exc
        except httpx.HTTPError as exc:
            raise BackendUnavailable("reranker", f"the reranker failed: {type(exc).__name__}") from exc
        body = response.json()
        items = body.get("results", []) if isinstance(body, dict) else body
        scores = {int(i["index"]): float(i.get("score", i.get("relevance_score", 0.0))) for i in items}
        return [records.RerankScore(i, scores.get(i, 0.0)) for i in range(len(documents))]
