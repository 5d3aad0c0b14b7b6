"""The embedded store's vector index: built on request past a minimum, nothing lost, the same answers; and
`ragweave index-vectors`, which builds it with the server stopped."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from qdrant_client import AsyncQdrantClient

from ragweave import records
from ragweave.datasources.vectors import ChunkPoint, VectorQuery
from ragweave.datasources.vectors_edge import EdgeVectorStore
from ragweave.datasources.vectors_qdrant import QdrantVectorStore
from ragweave.errors import BadUserInput

DIM = 384
POINTS = 7_000  # qdrant-edge's optimizer indexes a segment past ~6,700 vectors of 384 dimensions, not below


def clustered(rng: np.random.Generator, count: int) -> np.ndarray:
    centres = np.random.default_rng(0).normal(0, 1, (50, DIM))
    points = centres[rng.integers(0, len(centres), count)] + rng.normal(0, 0.35, (count, DIM))
    return (points / np.linalg.norm(points, axis=1, keepdims=True)).astype(np.float32)


async def fill(store: EdgeVectorStore, vectors: np.ndarray, tenant: str = "acme") -> None:
    for start in range(0, len(vectors), 1000):
        await store.upsert(tenant, "chunks", [
            ChunkPoint(records.Chunk(f"d{n}#0", f"d{n}", 0, f"chunk {n}"), vector.tolist(), "h")
            for n, vector in enumerate(vectors[start:start + 1000], start)
        ])


async def top_ids(store: EdgeVectorStore, queries: np.ndarray) -> list[list[str]]:
    answers = await store.query_many("acme", "chunks", [VectorQuery(tuple(q.tolist()), 10) for q in queries])
    return [[hit.chunk.id for hit in hits] for hits in answers]


async def test_the_index_is_built_past_the_minimum_and_answers_as_the_scan_did(tmp_path: Path):
    rng = np.random.default_rng(1)
    vectors = clustered(rng, POINTS)
    queries = np.concatenate([vectors[:5], clustered(rng, 25)])
    store = EdgeVectorStore(tmp_path / "vectors", DIM)
    try:
        await fill(store, vectors)
        scanned = await top_ids(store, queries)

        not_yet = await store.build_index("chunks", POINTS + 1)
        assert not_yet is not None
        assert (not_yet.points, not_yet.indexed_before, not_yet.indexed_after) == (POINTS, 0, 0)

        built = await store.build_index("chunks", 5_000)
        assert built is not None
        assert (built.points, built.indexed_before, built.indexed_after) == (POINTS, 0, POINTS)
        again = await store.build_index("chunks", 5_000)
        assert again is not None and again.indexed_before == again.indexed_after == POINTS

        assert await store.count("acme", "chunks") == POINTS
        indexed = await top_ids(store, queries)
        assert [ids[0] for ids in indexed[:5]] == [f"d{n}#0" for n in range(5)]  # each stored vector finds itself
        overlap = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(scanned, indexed, strict=True)])
        assert overlap >= 0.9, overlap
        assert await store.query_many("other", "chunks", [VectorQuery(tuple(queries[0].tolist()), 10)]) == [[]]
        assert await store.build_index("absent", 1) is None
    finally:
        await store.close()


async def test_a_qdrant_server_indexes_by_itself():
    store = QdrantVectorStore(AsyncQdrantClient(location=":memory:"), DIM)
    try:
        await store.upsert("acme", "chunks", [ChunkPoint(records.Chunk("s#0", "s", 0, "one"), [0.1] * DIM, "h")])
        assert await store.build_index("chunks", 1) is None
        with pytest.raises(BadUserInput):
            await store.build_index("../elsewhere", 1)
    finally:
        await store.close()


def index_vectors(data_dir: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RAGWEAVE_VECTOR_INDEX_MIN": "5000"}
    return subprocess.run([sys.executable, "-m", "ragweave", "index-vectors", "--data-dir", str(data_dir), *extra],
                          capture_output=True, text=True, timeout=120, env=env)


async def test_index_vectors_builds_each_stored_collection_and_refuses_while_the_data_dir_is_in_use(tmp_path: Path):
    store = EdgeVectorStore(tmp_path / "vectors", DIM)
    await fill(store, clustered(np.random.default_rng(2), POINTS))
    await store.upsert("acme", "small", [ChunkPoint(records.Chunk("s#0", "s", 0, "small"), [0.1] * DIM, "h")])

    held = index_vectors(tmp_path)  # the store above still holds both shards open
    assert held.returncode == 1
    assert "ragweave index-vectors: " in held.stderr and "stop it first" in held.stderr
    await store.close()

    first = index_vectors(tmp_path)
    assert first.returncode == 0, first.stderr
    assert f"vector index of chunks: {POINTS} of {POINTS} vectors indexed ({POINTS} added," in first.stdout
    assert ("vector index of small: 1 of 1 vectors outside it, nothing built (the minimum is 5000, "
            "RAGWEAVE_VECTOR_INDEX_MIN)") in first.stdout
    second = index_vectors(tmp_path, "--collection", "chunks")
    assert second.returncode == 0, second.stderr
    assert second.stdout.strip() == (f"vector index of chunks: 0 of {POINTS} vectors outside it, nothing built "
                                     "(the minimum is 5000, RAGWEAVE_VECTOR_INDEX_MIN)")
    missing = index_vectors(tmp_path, "--collection", "nope")
    assert missing.returncode == 1 and "no collection 'nope'" in missing.stderr

    reopened = EdgeVectorStore(tmp_path / "vectors", DIM)
    try:
        assert await reopened.count("acme", "chunks") == POINTS
        built = await reopened.build_index("chunks", 1)
        assert built is not None and built.indexed_before == POINTS  # the index was written with the shard
    finally:
        await reopened.close()
