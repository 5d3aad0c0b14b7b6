"""The soak's operation mix: which GraphQL operations, how often, with what variables, and what counts as wrong.

The operation texts come from docs/frontend-operations.graphql, perf/operations.graphql and perf/soak.graphql.
Variables are drawn from a seeded RNG and from `Pool`, what the run has learnt so far (chunk and document ids
seen in answers, the documents it ingested and has not deleted yet, entity cursors).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from graphql import OperationDefinitionNode, parse, print_ast

ROOT = Path(__file__).resolve().parent.parent
SOURCES = [ROOT / "docs" / "frontend-operations.graphql", ROOT / "perf" / "operations.graphql",
           ROOT / "perf" / "soak.graphql"]
QUESTIONS = [
    "Who leads the Atlas Team?", "What is the Atlas Engine?", "launch plan of the Atlas team",
    "What caused the Tidewater Outage?", "Which customers did the Tidewater Outage affect?",
    "Who founded Lumen Harbor Labs?", "What does Project Lantern forecast?", "Who leads the platform team?",
    "What was decided at the Saltmere Offsite?", "What is the calm deploy policy?", "harbour dashboard",
    "Where is Lumen Harbor Labs based?", "What does the Signal API do?", "Who reports to Mara Quist?",
    "berth delay forecasts for Calder Shipping Group", "Portwick Maritime Museum archive scans",
]
ENTITIES = [
    "person:mara-quist", "person:ilya-brandt", "person:tomas-reyes", "person:priya-nandan", "team:atlas-team",
    "team:platform-team", "team:signal-team", "organization:lumen-harbor-labs", "organization:calder-shipping-group",
    "product:atlas-engine", "product:tidewater-platform", "product:signal-api", "project:project-lantern",
    "event:atlas-launch", "event:tidewater-outage", "location:portwick", "concept:calm-deploy-policy",
]
NAMES = ["atlas", "team", "tide", "mara", "signal", "harbor", "port", "lantern", "quist", "zz-nothing"]
TYPES = [None, "Person", "Team", "Product", "Event", "Organization"]
SENTENCES = [
    "Mara Quist reviewed the {w} plan with the Atlas Team in Portwick.",
    "The Signal Team shipped a {w} forecast through the Signal API.",
    "Priya Nandan asked Tomas Reyes about the {w} backlog of the Atlas Engine.",
    "Calder Shipping Group tested the {w} dashboard of the Beacon Console in Valmora.",
    "The Platform Team moved the {w} queue of the Tidewater Platform to new storage.",
]


def operations() -> dict[str, str]:
    """Every named operation of SOURCES, printed alone (a client sends one operation per request)."""
    found = {}
    for source in SOURCES:
        for definition in parse(source.read_text()).definitions:
            if isinstance(definition, OperationDefinitionNode) and definition.name:
                found[definition.name.value] = print_ast(definition)
    return found


@dataclass
class Pool:
    rng: random.Random
    chunk_ids: set[str] = field(default_factory=set)
    document_ids: set[str] = field(default_factory=set)
    ingested: list[str] = field(default_factory=list)
    cursor: str | None = None
    serial: int = 0

    def question(self) -> str:
        # half of the questions carry a fresh token, so no cache in the server can hide per-request growth
        base = self.rng.choice(QUESTIONS)
        return base if self.rng.random() < 0.5 else f"{base} {self.rng.randrange(10**6)}"

    def pick(self, ids: set[str], missing: str) -> str:
        return self.rng.choice(sorted(ids)) if ids and self.rng.random() < 0.9 else missing

    def new_document(self) -> dict:
        self.serial += 1
        words = [f"w{self.rng.randrange(10**6)}" for _ in range(self.rng.randint(2, 6))]
        text = " ".join(self.rng.choice(SENTENCES).format(w=w) for w in words)
        return {"id": f"soak/{self.serial}-{self.rng.randrange(10**9)}.md", "title": f"Soak note {self.serial}",
                "text": f"# Soak note {self.serial}\n\n{text}", "metadata": {"source": "soak"}}


@dataclass(frozen=True)
class Op:
    name: str
    weight: float
    operation: str
    variables: Callable[[Pool], dict]
    transport: str = "http"  # http | sse | ws
    key: str = "writer"
    expect: str | None = None  # deliberate: the only acceptable outcome is an error with this code


def _docs(pool: Pool) -> dict:
    return {"docs": [pool.new_document()]}


def _delete(pool: Pool) -> dict:
    return {"id": pool.ingested.pop(0) if pool.ingested else "soak/never-ingested.md"}


def _rerank(pool: Pool) -> dict:
    return {"q": pool.question(), "docs": pool.rng.sample(SENTENCES + QUESTIONS, 8)}


MIX = [
    Op("search", 14, "SearchBox", lambda p: {"text": p.question()}),
    Op("search-small", 6, "Small", lambda p: {"q": p.question(), "k": p.rng.randint(1, 20)}),
    Op("retrieve-citations", 8, "CitationsPanel", lambda p: {"question": p.question()}),
    Op("retrieve-subgraph", 5, "RetrieveSubgraph", lambda p: {"q": p.question()}),
    Op("retrieve-entities", 6, "RetrieveWithEntities", lambda p: {"q": p.question(), "k": 5}),
    Op("retrieve-deep", 3, "Deep", lambda p: {"q": p.question(), "k": 8}),
    Op("entity-page", 7, "EntityPage", lambda p: {"id": p.rng.choice(ENTITIES)}),
    Op("neighbours", 5, "Neighbours", lambda p: {"id": p.rng.choice(ENTITIES), "hops": p.rng.randint(1, 3)}),
    Op("entity-index", 4, "EntityIndex", lambda p: {"after": p.cursor}),
    Op("entity-search", 4, "EntitySearch", lambda p: {"search": p.rng.choice(NAMES), "type": p.rng.choice(TYPES)}),
    Op("chunk", 6, "ChunkById", lambda p: {"id": p.pick(p.chunk_ids, "missing.md#0")}),
    Op("document", 5, "DocumentById", lambda p: {"id": p.pick(p.document_ids, "missing.md")}),
    Op("embed", 4, "Embed", lambda p: {"texts": [p.question() for _ in range(p.rng.randint(1, 4))]}),
    Op("rerank", 4, "Rerank", _rerank),
    Op("status", 2, "Status", lambda p: {}),
    Op("graph-query", 2, "GraphQuery", lambda p: {"name": p.rng.choice(NAMES)}, key="admin"),
    Op("chat", 4, "Chat", lambda p: {"m": p.question()}),
    Op("chat-grounded", 3, "GroundedChat", lambda p: {"m": p.question()}),
    Op("chat-stream-sse", 2, "StreamingChat", lambda p: {"question": p.question()}, transport="sse"),
    Op("chat-stream-ws", 2, "StreamingChat", lambda p: {"question": p.question()}, transport="ws"),
    Op("ingest", 1.5, "Ingest", _docs),
    Op("delete-document", 1.5, "DeleteDocument", _delete),
    Op("over-topk", 1, "OverTopK", lambda p: {"q": p.question()}, expect="BAD_USER_INPUT"),
    Op("over-cost", 1, "OverCost", lambda p: {"q": p.question()}, expect="COST_LIMIT"),
]


def problems(data: dict | None) -> list[str]:
    """What is wrong in a successful answer's data: ingest failures, failed chat streams."""
    if not data:
        return []
    found = [f"INGEST_FAILURE:{f['stage']}" for f in (data.get("ingest") or {}).get("failures", [])]
    event = data.get("chatStream") or {}
    if event.get("__typename") == "ChatFailed":
        found.append(f"CHAT_FAILED:{event['code']}")
    return found


def learn(pool: Pool, op: Op, variables: dict, data: dict | None) -> None:
    """Remember ids from an answer, for later chunk/document/delete operations."""
    if not data:
        return
    for hit in data.get("search") or (data.get("retrieve") or {}).get("hits") or ():
        chunk = hit.get("chunk") or {}
        if "id" in chunk:
            pool.chunk_ids.add(chunk["id"])
        if "id" in (chunk.get("document") or {}):
            pool.document_ids.add(chunk["document"]["id"])
    if op.name == "ingest" and data.get("ingest", {}).get("documents"):
        pool.ingested.append(variables["docs"][0]["id"])
    if op.name == "entity-index":
        info = data["entities"]["pageInfo"]
        pool.cursor = info["endCursor"] if info["hasNextPage"] else None
    if op.name == "delete-document":
        prefix = variables["id"]
        pool.document_ids.discard(prefix)
        pool.chunk_ids -= {c for c in pool.chunk_ids if c.startswith(prefix + "#")}
