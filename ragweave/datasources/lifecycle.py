"""The only place vendor clients are built: opened once in the app lifespan, closed on shutdown."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from urllib.parse import urlparse

import httpx
from qdrant_client import AsyncQdrantClient

from ragweave import records
from ragweave.datasources.chat import ChatModel, OpenAIChat, openai_client
from ragweave.datasources.embeddings import ChainEmbedder, Embedder, LocalEmbedder, OpenAIEmbedder
from ragweave.datasources.falkordb_process import EmbeddedFalkorDB
from ragweave.datasources.graph import GraphStore
from ragweave.datasources.graph_falkordb import FalkorRunner
from ragweave.datasources.graph_neo4j import Neo4jRunner, open_driver
from ragweave.datasources.providers import Provider, ProviderChain
from ragweave.datasources.reranker import HttpReranker, LexicalReranker, Reranker
from ragweave.datasources.vectors import VectorStore
from ragweave.datasources.vectors_edge import EdgeVectorStore
from ragweave.datasources.vectors_qdrant import QdrantVectorStore
from ragweave.errors import AppError
from ragweave.settings import Settings

log = logging.getLogger("ragweave")


@dataclass(slots=True)
class Datasources:
    vectors: VectorStore
    graph: GraphStore
    embedder: Embedder
    chat: ChatModel | None
    reranker: Reranker
    embedded_graph: EmbeddedFalkorDB | None = None
    names: dict[str, str] = field(default_factory=dict)

    async def health(self) -> list[records.BackendHealth]:
        providers = self.chat.health() if isinstance(self.chat, ProviderChain) else []
        return [await _probe("vectors", self.vectors.ping), await _probe("graph", self._graph_ping), *providers]

    async def _graph_ping(self) -> None:
        if self.embedded_graph is not None and not self.embedded_graph.alive():
            raise RuntimeError("the embedded FalkorDB process is not running")
        await self.graph.ping()


async def _probe(name: str, ping: Callable[[], Awaitable[None]]) -> records.BackendHealth:
    started = time.perf_counter()
    try:
        await ping()
    except AppError as exc:  # our own messages name the backend, never its address
        return records.BackendHealth(name, False, None, f"{exc.code}: {exc}")
    except Exception as exc:  # health reports every failure instead of raising; details only in the log
        log.warning("health probe of %s failed", name, exc_info=exc)
        return records.BackendHealth(name, False, None, f"{type(exc).__name__} (details in the server log)")
    return records.BackendHealth(name, True, (time.perf_counter() - started) * 1000, None)


@asynccontextmanager
async def open_datasources(settings: Settings) -> AsyncIterator[Datasources]:
    async with AsyncExitStack() as stack:
        embedder, chat, llm_name = await _open_llm(settings, stack)
        vectors = await _open_vectors(settings, embedder.dim, stack)
        graph, embedded = await _open_graph(settings, stack)
        reranker = await _open_reranker(settings, stack)
        yield Datasources(
            vectors=vectors, graph=graph, embedder=embedder, chat=chat, reranker=reranker,
            embedded_graph=embedded,
            names={"vectors": vectors.name, "graph": graph.dialect, "llm": llm_name, "reranker": reranker.name},
        )


async def _open_llm(settings: Settings, stack: AsyncExitStack) -> tuple[Embedder, ChatModel | None, str]:
    configs = settings.provider_configs()
    if not configs:
        return await LocalEmbedder.load(), None, "offline"
    providers, embedders = [], []
    for config in configs:
        # Room for every permitted call and stream at once, so open streams cannot hold every connection while a
        # call waits for one (the aiohttp transport's default is 100).
        client = openai_client(
            config.base_url, config.api_key, timeout=settings.llm_timeout_s, max_retries=settings.llm_max_retries,
            max_connections=settings.provider_concurrency + settings.stream_concurrency,
        )
        stack.push_async_callback(client.close)
        provider = Provider(
            config.name, OpenAIChat(client, config.models.get("chat", settings.chat_model), config.name),
            config.models, asyncio.Semaphore(settings.provider_concurrency),
            stream_limit=asyncio.Semaphore(settings.stream_concurrency),
        )
        providers.append(provider)
        if "embed" in config.models:
            embedders.append((provider.breaker, OpenAIEmbedder(client, config.models["embed"], settings.embedding_dim)))
    embedder: Embedder = ChainEmbedder(embedders, settings.embedding_dim) if embedders else await LocalEmbedder.load()
    chain = ProviderChain(providers, settings.hedge_delay_s)
    return embedder, chain, "+".join(p.name for p in providers)


async def _open_vectors(settings: Settings, dim: int, stack: AsyncExitStack) -> VectorStore:
    if settings.qdrant_url:
        location = {":memory:": {"location": ":memory:"}}.get(settings.qdrant_url)
        client = AsyncQdrantClient(
            **(location or {"url": settings.qdrant_url, "api_key": settings.qdrant_api_key}),
            timeout=math.ceil(settings.qdrant_timeout_s),  # whole seconds; int() made 0.5 s a 0 s timeout
        )
        store: VectorStore = QdrantVectorStore(client, dim)
    else:
        store = EdgeVectorStore(settings.data_dir / "vectors", dim)
    stack.push_async_callback(store.close)
    return store


async def _open_graph(settings: Settings, stack: AsyncExitStack) -> tuple[GraphStore, EmbeddedFalkorDB | None]:
    embedded = None
    if settings.neo4j_uri:
        auth = (settings.neo4j_user, settings.neo4j_password) if settings.neo4j_user else None
        driver = open_driver(settings.neo4j_uri, auth)
        runner: Neo4jRunner | FalkorRunner = Neo4jRunner(driver, settings.neo4j_database, settings.graph_timeout_s)
    else:
        if settings.falkordb_url:
            url = urlparse(settings.falkordb_url)
            host, port = url.hostname or "127.0.0.1", url.port or 6379
        else:
            embedded = EmbeddedFalkorDB(settings.data_dir / "graph")
            await embedded.start()
            stack.push_async_callback(embedded.stop)
            host, port = embedded.host, embedded.port
        runner = FalkorRunner(host, port, settings.graph_name, settings.graph_timeout_s)
    graph = GraphStore(runner)
    stack.push_async_callback(graph.close)
    await runner.ensure_schema()
    return graph, embedded


async def _open_reranker(settings: Settings, stack: AsyncExitStack) -> Reranker:
    if not settings.reranker_url:
        return LexicalReranker()
    client = await stack.enter_async_context(
        httpx.AsyncClient(base_url=settings.reranker_url, timeout=settings.reranker_timeout_s)
    )
    return HttpReranker(client)
