"""Graph extraction: the offline rule extractor, or an LLM with a JSON schema, validation and one repair round."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Protocol

from ragweave import records
from ragweave.datasources.chat import ChatModel
from ragweave.datasources.lifecycle import Datasources
from ragweave.errors import AppError, BadLLMOutput, BadUserInput
from ragweave.resolvers import rule_extraction
from ragweave.resolvers.graph_input import SAFE_TYPE
from ragweave.resolvers.prompting import require_json

GRAPH_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["nodes", "edges"],
    "properties": {
        "nodes": {
            "type": "array",
            "maxItems": 40,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["type", "name"],
                "properties": {
                    "type": {"type": "string", "maxLength": 40},
                    "name": {"type": "string", "maxLength": 200},
                },
            },
        },
        "edges": {
            "type": "array",
            "maxItems": 80,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["source", "target", "type"],
                "properties": {
                    "source": {"type": "string", "maxLength": 200},
                    "target": {"type": "string", "maxLength": 200},
                    "type": {"type": "string", "maxLength": 40},
                },
            },
        },
    },
}
SCHEMA_HASH = hashlib.sha256(json.dumps(GRAPH_SCHEMA, sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class ExtractOptions:
    min_nodes: int = 0
    min_edges: int = 0
    allow_empty: bool = True
    max_attempts: int = 2


@dataclass(frozen=True, slots=True)
class Extraction:
    graph: records.ExtractedGraph
    provider: str
    attempts: int
    schema_hash: str = SCHEMA_HASH


class Extractor(Protocol):
    name: str

    async def extract(self, text: str, options: ExtractOptions) -> Extraction: ...


def check_enough(graph: records.ExtractedGraph, options: ExtractOptions) -> None:
    if not graph.nodes and not options.allow_empty:
        raise BadLLMOutput("the extraction is empty and allowEmpty is false")
    if len(graph.nodes) < options.min_nodes or len(graph.edges) < options.min_edges:
        raise BadLLMOutput(
            f"the extraction has {len(graph.nodes)} nodes and {len(graph.edges)} edges; "
            f"at least {options.min_nodes} and {options.min_edges} were asked for"
        )


class RuleExtractor:
    """Offline: capitalised phrases and verb patterns (see `rule_extraction`)."""

    name = "rules"

    async def extract(self, text: str, options: ExtractOptions) -> Extraction:
        graph = rule_extraction.extract_entities(text)
        check_enough(graph, options)
        return Extraction(graph=graph, provider=self.name, attempts=1)


def parse_graph(content: str) -> records.ExtractedGraph:
    """Validate a model's JSON answer against GRAPH_SCHEMA's rules and normalise ids; raise BadLLMOutput."""
    try:
        data = json.loads(content)
    except json.JSONDecodeError as exc:
        raise BadLLMOutput(f"the answer is not JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("nodes"), list) or not isinstance(data.get("edges"), list):
        raise BadLLMOutput("the answer must be an object with `nodes` and `edges` arrays")
    ids: dict[str, str] = {}
    nodes: dict[str, records.GraphNode] = {}
    for item in data["nodes"]:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not isinstance(item.get("type"), str):
            raise BadLLMOutput("every node needs string `type` and `name`")
        kind, name = item["type"].strip(), item["name"].strip()
        if not SAFE_TYPE.match(kind) or not name or len(name) > 200:
            raise BadLLMOutput(f"node type {kind[:40]!r} or name is not acceptable")
        entity_id = rule_extraction.entity_id(kind, name)
        ids[name.lower()] = entity_id
        nodes[entity_id] = records.GraphNode(id=entity_id, type=kind[0].upper() + kind[1:], name=name)
    edges: dict[tuple[str, str, str], records.GraphEdge] = {}
    for item in data["edges"]:
        if not isinstance(item, dict) or not all(isinstance(item.get(k), str) for k in ("source", "target", "type")):
            raise BadLLMOutput("every edge needs string `source`, `target` and `type`")
        source, target = ids.get(item["source"].strip().lower()), ids.get(item["target"].strip().lower())
        kind = item["type"].strip()
        if source is None or target is None or not SAFE_TYPE.match(kind):
            raise BadLLMOutput(
                f"edge {item['source'][:40]!r} -> {item['target'][:40]!r} names an unknown node or bad type"
            )
        if source != target:
            edges[(source, target, kind.upper())] = records.GraphEdge(source, target, kind.upper())
    return records.ExtractedGraph(nodes=list(nodes.values()), edges=list(edges.values()))


class LLMExtractor:
    """JSON-schema-constrained extraction through the chat model; one repair round per failed attempt."""

    name = "llm"

    def __init__(self, chat: ChatModel, model: str = "extract") -> None:
        self.chat = chat
        self.model = model

    async def extract(self, text: str, options: ExtractOptions) -> Extraction:
        if not 1 <= options.max_attempts <= 5:
            raise BadUserInput("`maxAttempts` must be between 1 and 5", argument="maxAttempts")
        messages = [records.ChatMessage("system", _SYSTEM_PROMPT), records.ChatMessage("user", text)]
        last_error: AppError | None = None
        for attempt in range(1, options.max_attempts + 1):
            answer = ""
            try:
                completion = await self.chat.complete(
                    messages, model=self.model, json_mode=True, temperature=0, validate=require_json,
                    json_schema={"name": "knowledge_graph", "schema": GRAPH_SCHEMA, "strict": True},
                )
                answer = completion.content
                graph = parse_graph(answer)
                check_enough(graph, options)
                return Extraction(graph=graph, provider=completion.provider, attempts=attempt)
            except BadLLMOutput as exc:
                last_error = exc
                repair = f"That answer is invalid: {exc}. Answer again with valid JSON."
                messages = [*messages[:2], records.ChatMessage("assistant", (answer or exc.answer)[:4000]),
                            records.ChatMessage("user", repair)]
        raise BadLLMOutput(f"no valid extraction after {options.max_attempts} attempts: {last_error}")


_SYSTEM_PROMPT = (
    "Extract a knowledge graph from the user's text. Answer only with JSON of the form "
    '{"nodes": [{"type": "Person|Organization|Team|Product|Project|Event|Location|Concept", "name": "..."}], '
    '"edges": [{"source": "<node name>", "target": "<node name>", "type": "UPPER_SNAKE_RELATION"}]}. '
    f"JSON schema: {json.dumps(GRAPH_SCHEMA)}"
)


def extractor_for(ds: Datasources) -> Extractor:
    """The LLM extractor when an LLM endpoint is configured; the offline rules otherwise."""
    return LLMExtractor(ds.chat) if ds.chat is not None else RuleExtractor()
