"""How the schema's objects are built: `types.built` makes what their `__init__` makes; a type's `plain_record`
may stand in for the type where only plain fields are read."""

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


def test_a_plain_record_carries_every_plain_field_of_its_type():
    """A direct run's resolver may answer a type's `plain_record` in place of the type (ragweave.schema.direct_root):
    the completers and graphql-core read the same attributes of it, so it must have every field that is neither a
    resolver nor private, and the type no `is_type_of` that would refuse it."""
    from ragweave.schema import build_schema
    from ragweave.settings import Settings

    schema = build_schema(Settings())._schema
    checked = set()
    for graphql_type in schema.type_map.values():
        definition = getattr(graphql_type, "extensions", {}).get("strawberry-definition")
        record = getattr(getattr(definition, "origin", None), "plain_record", None)
        if record is None:
            continue
        attributes = {f.name for f in dataclasses.fields(record)}
        fields = [field.extensions["strawberry-definition"] for field in graphql_type.fields.values()]
        plain = {field.python_name for field in fields if field.base_resolver is None}
        assert plain and plain <= attributes, (graphql_type.name, plain - attributes)
        assert graphql_type.is_type_of is None
        checked.add(graphql_type.name)
    assert checked == {"SearchHit", "Chunk", "Document", "Entity"}


def test_a_carrier_carries_every_attribute_of_its_type_and_only_resolver_fields_without_arguments():
    """A direct run's resolver may answer a type's `carrier` (ragweave.schema.direct_root): the completers read the
    fields it `carries` from it, and where they step aside graphql-core's path calls the type's resolvers on it, so
    it must hold every attribute of the type (private ones too: the resolvers read them)."""
    from ragweave.schema import build_schema
    from ragweave.settings import Settings

    schema = build_schema(Settings())._schema
    checked = set()
    for graphql_type in schema.type_map.values():
        definition = getattr(graphql_type, "extensions", {}).get("strawberry-definition")
        origin = getattr(definition, "origin", None)
        carrier = getattr(origin, "carrier", None)
        if carrier is None:
            continue
        fields = {field.python_name: field for field in definition.fields}
        attributes = {name for name, field in fields.items() if field.base_resolver is None}
        assert attributes | carrier.carries == set(carrier.__slots__), graphql_type.name
        for name in carrier.carries:
            assert fields[name].base_resolver is not None and not fields[name].arguments, name
        checked.add(graphql_type.name)
    assert checked == {"Chunk"}


async def test_a_chunk_answer_carries_the_chunks_attributes_its_document_and_entities():
    from ragweave.schema.types import ChunkAnswer

    chunk = Chunk.from_record(CHUNK, "docs")
    answer = ChunkAnswer(CHUNK, "docs", [ENTITY])
    assert {name: getattr(answer, name) for name in vars(chunk)} == vars(chunk)
    assert answer.entities == [ENTITY]
    assert answer.document == records.Document(CHUNK.document_id, CHUNK.document_title, CHUNK.document_metadata)
    assert Chunk.document(answer) == chunk.document()  # Chunk's resolvers take it as they take a Chunk
    assert ChunkAnswer(CHUNK, "docs", None).entities is None
