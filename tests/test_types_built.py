"""`ragweave.schema.types.built` makes the same objects as the types' dataclass `__init__`."""

from __future__ import annotations

import dataclasses

import pytest

from ragweave import records
from ragweave.schema.retrieval import SearchHit
from ragweave.schema.types import Chunk, Document, Entity, built

CHUNK = records.Chunk("memo.md#1", "memo.md", 1, "Zora leads the Ferry Team.", 0, 26, metadata={"lang": "en"},
                      document_title="Memo")
ENTITY = records.Entity("zora-quill", "Zora Quill", "Person", {"role": "lead"})
DOCUMENT = records.Document("memo.md", "Memo", {"lang": "en"})


@pytest.mark.parametrize("cls", [Chunk, Document, Entity, SearchHit])
def test_the_types_built_without_init_run_nothing_after_it(cls):
    assert dataclasses.is_dataclass(cls) and not hasattr(cls, "__post_init__")


def test_built_objects_equal_the_ones_init_makes():
    chunk = Chunk.from_record(CHUNK, "docs")
    assert chunk == Chunk(id=CHUNK.id, text=CHUNK.text, document_id=CHUNK.document_id, index=CHUNK.index,
                          metadata=CHUNK.metadata, collection="docs", record=CHUNK)
    assert Entity.from_record(ENTITY, "docs") == Entity(id=ENTITY.id, name=ENTITY.name, type=ENTITY.type,
                                                        properties=ENTITY.properties, collection="docs")
    assert Document.from_record(DOCUMENT, "docs") == Document(id=DOCUMENT.id, title=DOCUMENT.title,
                                                              metadata=DOCUMENT.metadata, collection="docs")
    hit = built(SearchHit, {"score": 0.5, "chunk": chunk})
    assert hit == SearchHit(score=0.5, chunk=chunk) and type(hit) is SearchHit
    assert vars(hit).keys() == {f.name for f in dataclasses.fields(SearchHit)}
