"""The hand-checked demo graph is consistent with itself, with `entity_id` and with the corpus."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import ragweave.demo
from ragweave import records
from ragweave.resolvers.graph_input import checked_graph
from ragweave.resolvers.rule_extraction import ENTITY_TYPES, entity_id

DEMO = Path(ragweave.demo.__file__).parent
DOCUMENTS = {path.stem: path.read_text(encoding="utf-8") for path in sorted((DEMO / "corpus").glob("*.md"))}
GRAPH = json.loads((DEMO / "graph.json").read_text(encoding="utf-8"))
NODES = GRAPH["nodes"]
EDGES = GRAPH["edges"]


def test_the_corpus_has_six_titled_documents_of_300_to_900_words():
    assert len(DOCUMENTS) == 6
    for stem, text in DOCUMENTS.items():
        assert text.startswith("# "), stem
        assert 300 <= len(text.split()) <= 900, stem


def test_the_graph_has_a_browsable_size():
    assert 25 <= len(NODES) <= 40
    assert 30 <= len(EDGES) <= 60


def test_node_ids_are_unique_and_follow_entity_id():
    assert len({node["id"] for node in NODES}) == len(NODES)
    for node in NODES:
        assert node["type"] in ENTITY_TYPES
        assert node["id"] == entity_id(node["type"], node["name"])


def test_edges_join_existing_nodes_once_with_upper_snake_types():
    ids = {node["id"] for node in NODES}
    keys = [(edge["source"], edge["target"], edge["type"]) for edge in EDGES]
    assert len(set(keys)) == len(keys)
    for source, target, kind in keys:
        assert source in ids and target in ids
        assert source != target
        assert re.fullmatch(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*", kind)


def test_every_node_is_connected():
    ends = {edge[end] for edge in EDGES for end in ("source", "target")}
    assert {node["id"] for node in NODES} <= ends


@pytest.mark.parametrize("node", NODES, ids=[node["id"] for node in NODES])
def test_mentions_name_real_documents_that_contain_the_name(node: dict):
    assert node["mentions"]
    for stem in node["mentions"]:
        assert stem in DOCUMENTS
        assert node["name"].lower() in DOCUMENTS[stem].lower()


def test_the_graph_passes_the_write_checks():
    nodes = [records.GraphNode(n["id"], n["type"], n["name"], n.get("properties"), tuple(n["mentions"])) for n in NODES]
    edges = [records.GraphEdge(e["source"], e["target"], e["type"]) for e in EDGES]
    clean_nodes, clean_edges = checked_graph(nodes, edges)
    assert len(clean_nodes) == len(NODES)
    assert len(clean_edges) == len(EDGES)
