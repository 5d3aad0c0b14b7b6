"""Ingestion on real backends: idempotent, change-aware, orphan-free, with LLM extraction and progress events."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace

import pytest

from ragweave.datasources.chat import OpenAIChat
from ragweave.datasources.lifecycle import Datasources
from ragweave.jobs import JobBoard
from ragweave.resolvers.extraction import ExtractOptions, LLMExtractor, RuleExtractor
from ragweave.resolvers.ingest import Ingestor, SourceDocument
from tests.graphql import execute
from tests.llm_clients import tracked_client
from tests.servers.openai_server import OpenAITestServer, ok

pytestmark = pytest.mark.usefixtures("close_llm_clients")

DOCS = [
    SourceDocument(
        "team.md", "# Team\n\nMara Quist leads the Atlas Team. Ivo Brandt works at Lumen Harbor Labs.", "Team"
    ),
    SourceDocument(
        "product.md", "# Product\n\nThe Atlas Team builds Beacon Engine. Beacon Engine uses Tidewater.", "Product"
    ),
    SourceDocument(
        "events.md",
        "# Events\n\n"
        + " ".join(
            f"In week {i}, Ivo Brandt reviewed the Beacon Engine roadmap with the Atlas Team." for i in range(12)
        ),
        "Events",
    ),
]
ORPHANS = """
MATCH (e:Entity {tenant: $t}) OPTIONAL MATCH (e)-[m:MENTIONED_IN]->() WITH e, count(m) AS c WHERE c = 0
RETURN count(e) AS orphans"""


def ingestor(ds: Datasources, tenant: str, extractor=None) -> Ingestor:
    return Ingestor(ds, tenant, "chunks", extractor or RuleExtractor(), chunk_size=200, chunk_overlap=40)


async def state(ds: Datasources, tenant: str) -> tuple[int, int, int]:
    orphans = await ds.graph.user_query(ORPHANS, {"t": tenant}, 10, 5)
    return await ds.vectors.count(tenant, "chunks"), await ds.graph.count_nodes(tenant), orphans[0]["orphans"]


async def test_ingesting_twice_changes_nothing_and_skips_by_content_hash(datasources: Datasources, tenant: str):
    first = await ingestor(datasources, tenant).run(DOCS)
    assert first.failures == [] and first.skipped == 0 and first.chunks >= 4 and first.entities >= 5
    after_first = await state(datasources, tenant)
    second = await ingestor(datasources, tenant).run(DOCS)
    assert second.skipped == 3 and second.chunks == 0
    assert await state(datasources, tenant) == after_first
    assert after_first[2] == 0


async def test_a_changed_document_replaces_only_its_own_chunks(datasources: Datasources, tenant: str):
    await ingestor(datasources, tenant).run(DOCS)
    before = await datasources.vectors.chunks_of_documents(tenant, "chunks", ["team.md", "events.md"], 100)
    shorter = replace(DOCS[2], text="# Events\n\nIvo Brandt met Mara Quist.")
    report = await ingestor(datasources, tenant).run([DOCS[0], DOCS[1], shorter])
    assert report.skipped == 2 and report.chunks == 1
    team, events = await datasources.vectors.chunks_of_documents(tenant, "chunks", ["team.md", "events.md"], 100)
    assert team == before[0]
    assert [c.text for c in events] == ["# Events\n\nIvo Brandt met Mara Quist."]
    assert await datasources.graph.existing_chunks(tenant, "chunks", [f"events.md#{i}" for i in range(1, 9)]) == set()
    assert (await state(datasources, tenant))[2] == 0


async def test_delete_document_leaves_no_orphans(datasources: Datasources, tenant: str):
    await ingestor(datasources, tenant).run(DOCS)
    response = await execute(
        datasources,
        'mutation { deleteDocument(id: "product.md") { documentId chunks entitiesRemoved } }',
        tenant=tenant,
        role="writer",
    )
    deleted = response.ok()["deleteDocument"]
    assert deleted["chunks"] >= 1 and deleted["entitiesRemoved"] >= 1  # Tidewater was only in product.md
    assert await datasources.vectors.chunks_of_documents(tenant, "chunks", ["product.md"], 10) == [[]]
    assert (await state(datasources, tenant))[2] == 0
    found = await datasources.graph.entities_by_names(tenant, ["tidewater", "mara quist"])
    assert [e.name for e in found] == ["Mara Quist"]


async def test_ingest_mutation_publishes_progress_and_needs_the_writer_role(datasources: Datasources, tenant: str):
    jobs = JobBoard()
    mutation = """mutation ($docs: [DocumentInput!]!) {
      ingest(documents: $docs, jobId: "job-1") { jobId documents chunks entities failures { stage } extractor } }"""
    docs = [{"id": d.id, "text": d.text, "title": d.title} for d in DOCS[:2]]
    refused = await execute(datasources, mutation, {"docs": docs}, tenant=tenant, role="reader")
    assert refused.codes() == ["FORBIDDEN"]
    result = (await execute(datasources, mutation, {"docs": docs}, tenant=tenant, role="writer", jobs=jobs)).ok()
    assert result["ingest"]["jobId"] == "job-1" and result["ingest"]["extractor"] == "rules"
    events = [type(e).__name__ async for e in jobs.follow("job-1")]
    assert events[0] == "IngestStarted" and events[-1] == "IngestFinished"
    assert events.count("IngestChunkDone") == result["ingest"]["chunks"]


@pytest.mark.parametrize("bad", [{"id": "a#1", "text": "x"}, {"id": " ", "text": "x"}])
async def test_bad_documents_are_refused_with_bad_user_input(datasources: Datasources, tenant: str, bad):
    response = await execute(
        datasources,
        "mutation ($d: [DocumentInput!]!) { ingest(documents: $d) { chunks } }",
        {"d": [bad]},
        tenant=tenant,
        role="writer",
    )
    assert response.codes() == ["BAD_USER_INPUT"]


@pytest.fixture
def llm() -> Iterator[OpenAITestServer]:
    with OpenAITestServer() as server:
        yield server


def llm_extractor(server: OpenAITestServer) -> LLMExtractor:
    return LLMExtractor(OpenAIChat(tracked_client(server.base_url, timeout=5.0), "gpt-4o-mini", provider="test-server"))


VALID = {
    "nodes": [{"type": "Person", "name": "Mara Quist"}, {"type": "Team", "name": "Atlas Team"}],
    "edges": [{"source": "Mara Quist", "target": "Atlas Team", "type": "LEADS"}],
}


async def test_llm_extraction_valid_json(llm: OpenAITestServer):
    llm.reply_json(VALID)
    result = await llm_extractor(llm).extract("Mara Quist leads the Atlas Team.", _options())
    assert result.attempts == 1 and result.provider == "test-server"
    assert [(n.id, n.type) for n in result.graph.nodes] == [
        ("person:mara-quist", "Person"),
        ("team:atlas-team", "Team"),
    ]
    assert [(e.source, e.type, e.target) for e in result.graph.edges] == [
        ("person:mara-quist", "LEADS", "team:atlas-team")
    ]


async def test_llm_extraction_repairs_invalid_json_once(llm: OpenAITestServer):


    llm.script(ok(text="{not json"), ok(text=json.dumps(VALID)))
    result = await llm_extractor(llm).extract("Mara Quist leads the Atlas Team.", _options())
    assert result.attempts == 2
    repair = llm.requests[-1].body["messages"]
    assert repair[2] == {"role": "assistant", "content": "{not json"} and "invalid" in repair[3]["content"]


async def test_schema_violating_extraction_fails_and_the_chunk_is_retried_next_run(
    datasources: Datasources, tenant: str, llm: OpenAITestServer
):
    llm.reply_json({"nodes": [{"kind": "Person"}], "edges": []})
    report = await ingestor(datasources, tenant, llm_extractor(llm)).run(DOCS[:1])
    assert [(f.document_id, f.chunk_index, f.stage) for f in report.failures] == [("team.md", 0, "extract")]
    assert await datasources.vectors.count(tenant, "chunks") == 1  # the chunk keeps its vectors
    llm.reply_json(VALID)
    retry = await ingestor(datasources, tenant, llm_extractor(llm)).run(DOCS[:1])
    assert retry.skipped == 0 and retry.failures == [] and retry.entities == 2


async def test_hostile_labels_from_a_model_are_refused_and_the_graph_stays_intact(
    datasources: Datasources, tenant: str, llm: OpenAITestServer
):
    await ingestor(datasources, tenant).run(DOCS[:1])
    before = await state(datasources, tenant)
    llm.reply_json({"nodes": [{"type": "Person`) DETACH DELETE n //", "name": "Eve"}], "edges": []})
    report = await ingestor(datasources, tenant, llm_extractor(llm)).run(
        [replace(DOCS[0], text=DOCS[0].text + " Eve.")]
    )
    assert report.failures and report.failures[0].stage == "extract"
    after = await state(datasources, tenant)
    assert after[0] == before[0] and after[2] == 0
    hostile_name = {"nodes": [{"type": "Person", "name": "x`}) DETACH DELETE n //"}], "edges": []}
    llm.reply_json(hostile_name)
    report = await ingestor(datasources, tenant, llm_extractor(llm)).run([replace(DOCS[0], text="Mallory.")])
    assert report.failures == []
    (stored,) = await datasources.graph.entities_by_names(tenant, ["x`}) detach delete n //"])
    assert stored.name == "x`}) DETACH DELETE n //"


def _options() -> ExtractOptions:
    return ExtractOptions(max_attempts=2)
