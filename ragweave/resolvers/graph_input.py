"""Validation and normalisation of graph data from users and models before it reaches the store.

Types are stored as property values, never as Cypher syntax; they must still match a safe identifier pattern
so that clients can rely on them. Relation types are normalised to UPPER_SNAKE.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from ragweave import records
from ragweave.errors import BadUserInput

SAFE_TYPE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,39}$")
MAX_NAME_CHARS = 300
MAX_ID_CHARS = 300
MAX_PROPERTIES_BYTES = 16_000
MAX_NODES = 5000
MAX_EDGES = 20000


def entity_type(value: str) -> str:
    if not SAFE_TYPE.match(value):
        raise BadUserInput(f"entity type {value[:60]!r} must match {SAFE_TYPE.pattern}", argument="type")
    return value[0].upper() + value[1:]


def relation_type(value: str) -> str:
    if not SAFE_TYPE.match(value):
        raise BadUserInput(f"relation type {value[:60]!r} must match {SAFE_TYPE.pattern}", argument="type")
    return value.upper()


def properties(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise BadUserInput("`properties` must be an object", argument="properties")
    if len(json.dumps(value)) > MAX_PROPERTIES_BYTES:
        raise BadUserInput(f"`properties` must serialise to at most {MAX_PROPERTIES_BYTES} bytes")
    return value or None


def text_field(name: str, value: str, limit: int) -> str:
    value = value.strip()
    if not value or len(value) > limit:
        raise BadUserInput(f"`{name}` must be 1..{limit} characters", argument=name)
    return value


def checked_graph(
    nodes: Iterable[records.GraphNode], edges: Iterable[records.GraphEdge]
) -> tuple[list[records.GraphNode], list[records.GraphEdge]]:
    """Validate, normalise and de-duplicate; every edge endpoint must be one of the nodes or raise."""
    merged: dict[str, records.GraphNode] = {}
    for node in nodes:
        clean = records.GraphNode(
            id=text_field("id", node.id, MAX_ID_CHARS),
            type=entity_type(node.type),
            name=text_field("name", node.name, MAX_NAME_CHARS),
            properties=properties(node.properties),
            mentions=tuple(dict.fromkeys(node.mentions)),
        )
        known = merged.get(clean.id)
        if known is not None:
            clean = records.GraphNode(
                clean.id,
                clean.type,
                clean.name,
                clean.properties or known.properties,
                tuple(dict.fromkeys((*known.mentions, *clean.mentions))),
            )
        merged[clean.id] = clean
    unique_edges: dict[tuple[str, str, str], records.GraphEdge] = {}
    for edge in edges:
        kind = relation_type(edge.type)
        for end in (edge.source, edge.target):
            if end not in merged:
                raise BadUserInput(f"edge endpoint {end[:80]!r} is not one of the nodes", argument="edges")
        unique_edges[(edge.source, edge.target, kind)] = records.GraphEdge(
            edge.source, edge.target, kind, properties(edge.properties)
        )
    if len(merged) > MAX_NODES or len(unique_edges) > MAX_EDGES:
        raise BadUserInput(f"a graph write takes at most {MAX_NODES} nodes and {MAX_EDGES} edges")
    return list(merged.values()), list(unique_edges.values())
