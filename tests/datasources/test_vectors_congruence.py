"""The same vector-store cases on qdrant-edge (embedded default) and qdrant-client local mode (server adapter)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from qdrant_client import AsyncQdrantClient

from ragweave import records
from ragweave.datasources.vectors import ChunkFilter, ChunkPoint, VectorQuery, VectorStore
from ragweave.datasources.vectors_edge import EdgeVectorStore
from ragweave.datasources.vectors_qdrant import QdrantVectorStore
from ragweave.errors import BadUserInput

DIM = 4
T1, T2 = "tenant-1", "tenant-2"


@pytest.fixture(params=["edge", "qdrant-local"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[VectorStore]:
    if request.param == "edge":
        adapter: VectorStore = EdgeVectorStore(tmp_path / "vectors", DIM)
    else:
        adapter = QdrantVectorStore(AsyncQdrantClient(location=":memory:"), DIM)
    yield adapter
    await adapter.close()


def point(doc: str, index: int, vector: list[float], lang: str = "en", title: str = "T") -> ChunkPoint:
    chunk = records.Chunk(id=f"{doc}#{index}", document_id=doc, index=index, text=f"{doc} part {index}",
                          start=index * 10, end=index * 10 + 9, metadata={"lang": lang}, document_title=title,
                          document_metadata={"lang": lang})
    return ChunkPoint(chunk, vector, content_hash="h1")


async def seed(store: VectorStore) -> None:
    await store.upsert(T1, "c", [
        point("a", 0, [1, 0, 0, 0]), point("a", 1, [0.9, 0.1, 0, 0]), point("a", 2, [0, 1, 0, 0]),
        point("b", 0, [0.8, 0, 0.2, 0], lang="de", title="B"), point("b", 1, [0, 0, 1, 0], lang="de", title="B"),
    ])
    await store.upsert(T2, "c", [point("a", 0, [1, 0, 0, 0], title="other tenant")])


def ids(hits: list[records.ScoredChunk]) -> list[str]:
    return [h.chunk.id for h in hits]


async def test_query_many_ranks_by_cosine_and_pushes_filters_down(store: VectorStore):
    await seed(store)
    plain, by_doc, by_meta = await store.query_many(T1, "c", [
        VectorQuery((1, 0, 0, 0), 3),
        VectorQuery((1, 0, 0, 0), 5, ChunkFilter(document_ids=("b",))),
        VectorQuery((0, 0, 1, 0), 5, ChunkFilter(metadata=(("lang", "en"),))),
    ])
    assert ids(plain) == ["a#0", "a#1", "b#0"]
    assert plain[0].score == pytest.approx(1.0, abs=1e-5)
    assert ids(by_doc) == ["b#0", "b#1"]
    assert set(ids(by_meta)) == {"a#0", "a#1", "a#2"}


async def test_tenants_are_isolated(store: VectorStore):
    await seed(store)
    (hits,) = await store.query_many(T2, "c", [VectorQuery((1, 0, 0, 0), 10)])
    assert [(h.chunk.id, h.chunk.document_title) for h in hits] == [("a#0", "other tenant")]
    assert await store.chunks_by_ids(T2, "c", ["a#1"]) == [None]
    assert await store.count(T1, "c") == 5 and await store.count(T2, "c") == 1


async def test_chunks_by_ids_keeps_order_and_payload(store: VectorStore):
    await seed(store)
    found = await store.chunks_by_ids(T1, "c", ["b#1", "missing#0", "not-an-id", "a#0"])
    assert [c.id if c else None for c in found] == ["b#1", None, None, "a#0"]
    assert found[0] == records.Chunk(id="b#1", document_id="b", index=1, text="b part 1", start=10, end=19,
                                     metadata={"lang": "de"}, document_title="B", document_metadata={"lang": "de"})


async def test_documents_and_their_first_chunks(store: VectorStore):
    await seed(store)
    docs = await store.documents_by_ids(T1, "c", ["b", "zzz", "a"])
    assert [(d.id, d.title) if d else None for d in docs] == [("b", "B"), None, ("a", "T")]
    a_chunks, b_chunks = await store.chunks_of_documents(T1, "c", ["a", "b"], first=2)
    assert [c.id for c in a_chunks] == ["a#0", "a#1"] and [c.id for c in b_chunks] == ["b#0", "b#1"]


async def test_reupsert_replaces_and_delete_from_index_drops_stale_points(store: VectorStore):
    await seed(store)
    await seed(store)
    assert await store.count(T1, "c") == 5
    assert await store.delete_document(T1, "c", "a", from_index=1) == 2
    assert [c.id for c in (await store.chunks_of_documents(T1, "c", ["a"], 10))[0]] == ["a#0"]
    assert await store.delete_document(T1, "c", "a") == 1
    assert await store.count(T1, "c") == 2 and await store.count(T2, "c") == 1


async def test_unknown_collections_are_empty_and_bad_names_refused(store: VectorStore):
    assert await store.query_many(T1, "nothing-here", [VectorQuery((1, 0, 0, 0), 3)]) == [[]]
    assert await store.chunks_by_ids(T1, "nothing-here", ["a#0"]) == [None]
    with pytest.raises(BadUserInput):
        await store.count(T1, "../escape")
