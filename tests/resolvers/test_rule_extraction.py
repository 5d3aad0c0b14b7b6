from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import ragweave.demo
from ragweave.records import ExtractedGraph
from ragweave.resolvers.chunking import chunk_text
from ragweave.resolvers.rule_extraction import (
    ENTITY_TYPES,
    RELATED_TO,
    RELATION_TYPES,
    entity_id,
    extract_entities,
    normalise_name,
    slug,
)

DEMO = Path(ragweave.demo.__file__).parent
DOCUMENTS = {path.stem: path.read_text(encoding="utf-8") for path in sorted((DEMO / "corpus").glob("*.md"))}
GRAPH = json.loads((DEMO / "graph.json").read_text(encoding="utf-8"))


def nodes_of(graph: ExtractedGraph) -> dict[str, tuple[str, str]]:
    return {node.id: (node.type, node.name) for node in graph.nodes}


def typed_edges(graph: ExtractedGraph) -> set[tuple[str, str, str]]:
    return {(e.source, e.type, e.target) for e in graph.edges if e.type != RELATED_TO}


def test_a_person_leads_a_team():
    graph = extract_entities("Mara Quist leads the Atlas Team.")
    assert nodes_of(graph) == {"person:mara-quist": ("Person", "Mara Quist"), "team:atlas-team": ("Team", "Atlas Team")}
    assert [(e.source, e.type, e.target) for e in graph.edges] == [("person:mara-quist", "LEADS", "team:atlas-team")]
    assert all(node.mentions == () for node in graph.nodes)


@pytest.mark.parametrize(
    ("sentence", "expected_nodes", "expected_edge"),
    [
        ("Ilya Brandt works at the Department of Energy.",
         {"person:ilya-brandt": "Person", "organization:department-of-energy": "Organization"},
         ("person:ilya-brandt", "MEMBER_OF", "organization:department-of-energy")),
        ("Jonah Vell, a member of the Platform Team, was on call.",
         {"person:jonah-vell": "Person", "team:platform-team": "Team"},
         ("person:jonah-vell", "MEMBER_OF", "team:platform-team")),
        ("Priya Nandan is the head of Project Lantern.",
         {"person:priya-nandan": "Person", "project:project-lantern": "Project"},
         ("person:priya-nandan", "LEADS", "project:project-lantern")),
        ("The Signal API is maintained by the Signal Team.",
         {"product:signal-api": "Product", "team:signal-team": "Team"},
         ("team:signal-team", "BUILDS", "product:signal-api")),
        ("The Atlas Team built Atlas Engine v2 last year.",
         {"team:atlas-team": "Team", "product:atlas-engine-v2": "Product"},
         ("team:atlas-team", "BUILDS", "product:atlas-engine-v2")),
        ("Calder Shipping Group uses the Beacon Console every day.",
         {"organization:calder-shipping-group": "Organization", "product:beacon-console": "Product"},
         ("organization:calder-shipping-group", "USES", "product:beacon-console")),
        ("Lumen Harbor Labs is based in Portwick.",
         {"organization:lumen-harbor-labs": "Organization", "location:portwick": "Location"},
         ("organization:lumen-harbor-labs", "LOCATED_IN", "location:portwick")),
        ("Jonah Vell responded to the Tidewater Outage.",
         {"person:jonah-vell": "Person", "event:tidewater-outage": "Event"},
         ("person:jonah-vell", "INVOLVED_IN", "event:tidewater-outage")),
        ("Mara Quist founded Lumen Harbor Labs in a net loft.",
         {"person:mara-quist": "Person", "organization:lumen-harbor-labs": "Organization"},
         ("person:mara-quist", "FOUNDED", "organization:lumen-harbor-labs")),
        ("Jonah Vell, a site reliability engineer, works in the Platform Team.",
         {"person:jonah-vell": "Person", "team:platform-team": "Team"},
         ("person:jonah-vell", "MEMBER_OF", "team:platform-team")),
        ("Calder Shipping Group is the largest customer of Lumen Harbor Labs.",
         {"organization:calder-shipping-group": "Organization", "organization:lumen-harbor-labs": "Organization"},
         ("organization:calder-shipping-group", "CUSTOMER_OF", "organization:lumen-harbor-labs")),
        ("The Atlas Engine was unveiled at the Atlas Launch.",
         {"product:atlas-engine": "Product", "event:atlas-launch": "Event"},
         ("product:atlas-engine", "LAUNCHED_AT", "event:atlas-launch")),
        ("Tomas Reyes reports to Ilya Brandt.",
         {"person:tomas-reyes": "Person", "person:ilya-brandt": "Person"},
         ("person:tomas-reyes", "REPORTS_TO", "person:ilya-brandt")),
    ],
)
def test_verb_patterns_give_typed_edges(sentence: str, expected_nodes: dict[str, str], expected_edge: tuple):
    graph = extract_entities(sentence)
    assert {node_id: kind for node_id, (kind, _) in nodes_of(graph).items()} == expected_nodes
    assert typed_edges(graph) == {expected_edge}
    assert not [e for e in graph.edges if e.type == RELATED_TO]


def test_a_list_carries_the_verb_to_every_item():
    graph = extract_entities("The Tidewater Outage affected the Atlas Engine and the Signal API.")
    assert typed_edges(graph) == {
        ("event:tidewater-outage", "AFFECTS", "product:atlas-engine"),
        ("event:tidewater-outage", "AFFECTS", "product:signal-api"),
    }


def test_a_new_clause_is_not_a_list_item():
    graph = extract_entities("The Atlas Team builds the Atlas Engine, and Tomas Reyes leads the Atlas Team.")
    assert typed_edges(graph) == {
        ("team:atlas-team", "BUILDS", "product:atlas-engine"),
        ("person:tomas-reyes", "LEADS", "team:atlas-team"),
    }


def test_entities_in_one_sentence_are_related_by_co_occurrence():
    graph = extract_entities("Mara Quist and Ilya Brandt met at the Saltmere Offsite.")
    assert nodes_of(graph)["event:saltmere-offsite"] == ("Event", "Saltmere Offsite")
    assert [(e.source, e.target, e.type, e.properties) for e in graph.edges] == [
        ("person:mara-quist", "person:ilya-brandt", RELATED_TO, {"evidence": "co-occurrence"}),
        ("person:mara-quist", "event:saltmere-offsite", RELATED_TO, {"evidence": "co-occurrence"}),
        ("person:ilya-brandt", "event:saltmere-offsite", RELATED_TO, {"evidence": "co-occurrence"}),
    ]


def test_entities_in_different_sentences_are_not_related():
    graph = extract_entities("Mara Quist lives by the sea. Ilya Brandt prefers the hills.")
    assert set(nodes_of(graph)) == {"person:mara-quist", "person:ilya-brandt"}
    assert graph.edges == []


def test_titles_mark_people_and_are_not_part_of_the_name():
    graph = extract_entities("The report was checked by Dr. Okafor and by CEO Mara Quist.")
    assert nodes_of(graph) == {"person:okafor": ("Person", "Okafor"), "person:mara-quist": ("Person", "Mara Quist")}


def test_stopwords_months_weekdays_and_sentence_openers_are_not_entities():
    graph = extract_entities("On Monday in March, We met. Customers liked it. It rained in June.")
    assert graph.nodes == []


def test_a_sentence_opening_word_counts_when_it_is_capitalised_elsewhere():
    graph = extract_entities("Portwick is windy. Mara Quist moved to a house in Portwick.")
    assert nodes_of(graph)["location:portwick"] == ("Location", "Portwick")


def test_markdown_headings_are_skipped():
    graph = extract_entities("# Atlas Launch Recap\n\n## Who Came\n\nTomas Reyes spoke at the Atlas Launch.")
    assert set(nodes_of(graph)) == {"person:tomas-reyes", "event:atlas-launch"}
    assert typed_edges(graph) == {("person:tomas-reyes", "ATTENDED", "event:atlas-launch")}


def test_possessives_and_lone_cue_words_are_dropped():
    graph = extract_entities("Mara Quist's Team met the Platform people.")
    assert set(nodes_of(graph)) == {"person:mara-quist"}


def test_no_self_edges_and_edges_are_unique():
    sentence = "The Atlas Team works with the Atlas Team. Noor Haddad works in the Atlas Team. "
    graph = extract_entities(sentence * 3)
    assert all(e.source != e.target for e in graph.edges)
    assert [(e.source, e.type, e.target) for e in graph.edges] == [
        ("person:noor-haddad", "MEMBER_OF", "team:atlas-team")
    ]
    assert len(graph.nodes) == 2


def test_ids_are_stable_across_calls_and_texts():
    first = extract_entities("Noor Haddad works in the Atlas Team.")
    second = extract_entities("Yesterday the Atlas Team shipped a fix that Noor Haddad wrote.")
    assert first == extract_entities("Noor Haddad works in the Atlas Team.")
    assert set(nodes_of(first)) == set(nodes_of(second)) == {"person:noor-haddad", "team:atlas-team"}


def test_entity_id_normalises_names():
    assert entity_id("Team", "Atlas  Team\u2019s") == entity_id("team", "atlas team") == "team:atlas-team"
    assert entity_id("Person", "Jos\u00e9 N\u00fa\u00f1ez") == "person:jose-nunez"
    assert entity_id("Organization", "Ames & Partners, Inc.") == "organization:ames-partners-inc"
    assert normalise_name('  "Lumen   Harbor Labs"  ') == "Lumen Harbor Labs"
    assert slug("\u5317\u4eac") == slug("\u5317\u4eac") != ""
    assert re.fullmatch(r"location:u[0-9a-f]{12}", entity_id("Location", "\u5317\u4eac"))


def test_types_and_relations_come_from_the_bounded_vocabularies():
    graph = extract_entities("\n\n".join(DOCUMENTS.values()))
    assert {node.type for node in graph.nodes} <= set(ENTITY_TYPES)
    assert {edge.type for edge in graph.edges} <= set(RELATION_TYPES)
    assert all(re.fullmatch(r"[A-Z][A-Z_]*", kind) for kind in RELATION_TYPES)


def test_empty_text_gives_an_empty_graph():
    assert extract_entities("") == ExtractedGraph(nodes=[], edges=[])


def corpus_extraction(size: int = 800, overlap: int = 120) -> tuple[set[str], set[str], set[tuple[str, str, str]]]:
    """Ids, slugged names and typed edges extracted chunk by chunk, as ingestion does."""
    ids, names, edges = set(), set(), set()
    for text in DOCUMENTS.values():
        for span in chunk_text(text, size=size, overlap=overlap):
            graph = extract_entities(span.text)
            ids |= {node.id for node in graph.nodes}
            names |= {slug(node.name) for node in graph.nodes}
            edges |= typed_edges(graph)
    return ids, names, edges


def test_corpus_recall_against_the_hand_checked_graph():
    # Measured when written (800/120 chunks): 29/29 names and ids, 50/60 typed edges, and 29 of the 32 extracted
    # ids are in graph.json (the others: "Portwick"/"Saltmere" without a place cue in their chunk, and a name cut
    # by a chunk's overlap start). The corpus was written with these rules in mind: this guards against
    # regressions, it does not measure accuracy on unseen text.
    ids, names, edges = corpus_extraction()
    expected = GRAPH["nodes"]
    name_recall = sum(slug(node["name"]) in names for node in expected) / len(expected)
    id_recall = sum(node["id"] in ids for node in expected) / len(expected)
    edge_recall = len(edges & {(e["source"], e["type"], e["target"]) for e in GRAPH["edges"]}) / len(GRAPH["edges"])
    precision = len(ids & {node["id"] for node in expected}) / len(ids)
    assert name_recall >= 0.95
    assert id_recall >= 0.9
    assert edge_recall >= 0.8
    assert precision >= 0.85
