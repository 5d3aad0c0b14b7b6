"""Root lookups by id and the paginated entity browser."""

from __future__ import annotations

import base64
import binascii

from ragweave.context import Info
from ragweave.errors import BadUserInput, check_range
from ragweave.schema.system import EntityConnection, EntityEdge, PageInfo
from ragweave.schema.types import MAX_FIRST, Chunk, Document, Entity

_CURSOR_PREFIX = "entity:"


def encode_cursor(entity_id: str) -> str:
    return base64.urlsafe_b64encode(f"{_CURSOR_PREFIX}{entity_id}".encode()).decode()


def decode_cursor(cursor: str) -> str:
    try:
        raw = base64.urlsafe_b64decode(cursor.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raw = ""
    if not raw.startswith(_CURSOR_PREFIX):
        raise BadUserInput("`after` is not a cursor this API returned", argument="after")
    return raw.removeprefix(_CURSOR_PREFIX)


async def chunk(info: Info, chunk_id: str) -> Chunk | None:
    collection = info.context.settings.default_collection
    found = await info.context.loaders.chunk.load((collection, chunk_id))
    return Chunk.from_record(found, collection) if found else None


async def document(info: Info, document_id: str) -> Document | None:
    collection = info.context.settings.default_collection
    found = await info.context.loaders.document.load((collection, document_id))
    return Document.from_record(found, collection) if found else None


async def entity(info: Info, entity_id: str) -> Entity | None:
    found = await info.context.loaders.entity.load(entity_id)
    return Entity.from_record(found, info.context.settings.default_collection) if found else None


async def entities(
    info: Info, search: str | None, kind: str | None, first: int, after: str | None
) -> EntityConnection:
    check_range("first", first, 1, MAX_FIRST)
    if search is not None and len(search) > 200:
        raise BadUserInput("`search` is longer than 200 characters", argument="search")
    page = await info.context.datasources.graph.list_entities(
        info.context.tenant, search=search or None, kind=kind, first=first,
        after=decode_cursor(after) if after else None,
    )
    collection = info.context.settings.default_collection
    for found in page.entities:
        info.context.loaders.entity.prime(found.id, found)
    edges = [EntityEdge(cursor=encode_cursor(e.id), node=Entity.from_record(e, collection)) for e in page.entities]
    return EntityConnection(
        edges=edges,
        page_info=PageInfo(has_next_page=page.has_next, end_cursor=edges[-1].cursor if edges else None),
    )
