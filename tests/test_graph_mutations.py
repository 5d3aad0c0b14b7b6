"""extractGraph, upsertGraph and ingestProgress through GraphQL, offline."""

from __future__ import annotations

from ragweave.context import build_context
from ragweave.jobs import JobBoard
from ragweave.resolvers.extraction import SCHEMA_HASH
from tests.graphql import SETTINGS, execute, schema

UPSERT = "mutation ($g: GraphInput!) { upsertGraph(graph: $g) { nodes edges } }"


async def test_extract_graph_offline_names_its_extractor(datasources, tenant):
    query = """mutation { extractGraph(text: "Mara Quist leads the Atlas Team.", options: {minNodes: 2}) {
        nodes { id type name } edges { source target type } provider attempts schemaHash } }"""
    result = (await execute(datasources, query, tenant=tenant, role="writer")).ok()["extractGraph"]
    assert result["provider"] == "rules" and result["attempts"] == 1 and result["schemaHash"] == SCHEMA_HASH
    assert {"id": "person:mara-quist", "type": "Person", "name": "Mara Quist"} in result["nodes"]
    assert {"source": "person:mara-quist", "target": "team:atlas-team", "type": "LEADS"} in result["edges"]
    too_few = 'mutation { extractGraph(text: "nothing here.", options: {allowEmpty: false}) { provider } }'
    assert (await execute(datasources, too_few, tenant=tenant, role="writer")).codes() == ["BAD_LLM_OUTPUT"]


async def test_upsert_graph_is_validated_and_idempotent(datasources, tenant):
    graph = {
        "nodes": [
            {"id": "p:1", "type": "Person", "name": "Ada", "properties": {"born": 1815}},
            {"id": "o:1", "type": "Organization", "name": "Engines Ltd"},
        ],
        "edges": [{"source": "p:1", "target": "o:1", "type": "works_for"}],
    }
    for _ in range(2):
        assert (await execute(datasources, UPSERT, {"g": graph}, tenant=tenant, role="writer")).ok() == {
            "upsertGraph": {"nodes": 2, "edges": 1}
        }
    assert await datasources.graph.count_nodes(tenant) == 2
    (relations,) = await datasources.graph.relations(tenant, ["p:1"])
    assert [r.type for r in relations] == ["WORKS_FOR"]
    bad_inputs = [
        {**graph, "nodes": [{**graph["nodes"][0], "mentions": ["no-such-doc#0"]}, graph["nodes"][1]]},
        {**graph, "edges": [{"source": "p:1", "target": "missing", "type": "X"}]},
        {**graph, "nodes": [{**graph["nodes"][0], "type": "Person`) DETACH DELETE n //"}, graph["nodes"][1]]},
        {**graph, "edges": [{"source": "p:1", "target": "o:1", "type": "A-B"}]},
    ]
    for bad in bad_inputs:
        assert (await execute(datasources, UPSERT, {"g": bad}, tenant=tenant, role="writer")).codes() == [
            "BAD_USER_INPUT"
        ]
    assert await datasources.graph.count_nodes(tenant) == 2


async def test_ingest_progress_subscription_replays_and_finishes(datasources, tenant):
    jobs = JobBoard()
    ingest = """mutation { ingest(jobId: "j-7", documents: [{id: "a.md", text: "Mara Quist leads the Atlas Team."}])
                { jobId chunks } }"""
    assert (await execute(datasources, ingest, tenant=tenant, role="writer", jobs=jobs)).ok()["ingest"]["chunks"] == 1
    context = build_context(datasources, SETTINGS, jobs, tenant=tenant)
    stream = await schema().subscribe(
        """subscription { ingestProgress(jobId: "j-7") { __typename ... on IngestFinished { result { chunks } } } }""",
        context_value=context,
    )
    events = [r.data["ingestProgress"] async for r in stream]
    assert [e["__typename"] for e in events] == ["IngestStarted", "IngestChunkDone", "IngestFinished"]
    assert events[-1]["result"]["chunks"] == 1
