"""health, whoami, embed, rerank and the read-only graphQuery."""

from __future__ import annotations

import functools
import hashlib
from typing import Any

from ragweave import __version__
from ragweave.context import Info
from ragweave.errors import BadUserInput, check_range
from ragweave.resolvers.extraction import extractor_for
from ragweave.schema.system import BackendHealth, Embeddings, Health, RerankResult, WhoAmI

MAX_EMBED_TEXTS = 256
MAX_TEXT_CHARS = 8000
MAX_RERANK_DOCUMENTS = 200
GRAPH_QUERY_TIMEOUT_S = 5.0
MAX_CYPHER_CHARS = 10_000


async def health(info: Info) -> Health:
    backends = [
        BackendHealth(name=b.name, ok=b.ok, latency_ms=b.latency_ms, error=b.error)
        for b in await info.context.datasources.health()
    ]
    return Health(ok=all(b.ok for b in backends), backends=backends)


@functools.cache
def _schema_hash(sdl: str) -> str:
    return hashlib.sha256(sdl.encode()).hexdigest()[:16]


def whoami(info: Info) -> WhoAmI:
    ds = info.context.datasources
    return WhoAmI(
        version=__version__, tenant=info.context.tenant, role=info.context.role,
        chat_model=ds.chat.model if ds.chat else "none (LLM_NOT_CONFIGURED)",
        embedding_model=ds.embedder.model,
        backends=[f"{role}:{name}" for role, name in sorted(ds.names.items())],
        graph_dialect=ds.graph.dialect, extractor=extractor_for(ds).name,
        reranker=ds.reranker.name, schema_hash=_schema_hash(str(info.schema)),
    )


def _check_texts(name: str, texts: list[str], limit: int) -> None:
    if not texts:
        raise BadUserInput(f"`{name}` must not be empty", argument=name)
    if len(texts) > limit:
        raise BadUserInput(f"`{name}` takes at most {limit} items", argument=name)
    if any(len(t) > MAX_TEXT_CHARS for t in texts):
        raise BadUserInput(f"each of `{name}` must be at most {MAX_TEXT_CHARS} characters", argument=name)


async def embed(info: Info, texts: list[str]) -> Embeddings:
    _check_texts("texts", texts, MAX_EMBED_TEXTS)
    embedder = info.context.datasources.embedder
    vectors = await embedder.embed_many(texts)
    return Embeddings(vectors=vectors, dim=embedder.dim, model=embedder.model)


async def rerank(info: Info, query: str, documents: list[str], top_n: int) -> list[RerankResult]:
    _check_texts("documents", documents, MAX_RERANK_DOCUMENTS)
    check_range("topN", top_n, 1, MAX_RERANK_DOCUMENTS)
    if not query.strip():
        raise BadUserInput("`query` must not be empty", argument="query")
    scores = await info.context.datasources.reranker.rerank(query, documents)
    best = sorted(scores, key=lambda s: (-s.score, s.index))[:top_n]
    return [RerankResult(index=s.index, score=s.score, document=documents[s.index]) for s in best]


async def graph_query(info: Info, cypher: str, params: Any) -> list[Any]:
    info.context.require("admin")
    if not cypher.strip() or len(cypher) > MAX_CYPHER_CHARS:
        raise BadUserInput(f"`cypher` must be 1..{MAX_CYPHER_CHARS} characters", argument="cypher")
    if params is not None and not isinstance(params, dict):
        raise BadUserInput("`params` must be an object", argument="params")
    _check_integers(params)
    return await info.context.datasources.graph.user_query(
        cypher, params or {}, info.context.settings.graph_query_row_cap, GRAPH_QUERY_TIMEOUT_S
    )


def _check_integers(value: Any) -> None:
    """Both engines store 64-bit integers: FalkorDB would silently clamp a larger one, the Neo4j driver raise."""
    if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**63:
        raise BadUserInput("integers in `params` must fit in 64 bits", argument="params")
    for item in value.values() if isinstance(value, dict) else value if isinstance(value, list) else ():
        _check_integers(item)
