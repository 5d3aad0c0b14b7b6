"""Two tenants ingest overlapping documents; through every query field neither sees the other's data.

Runs on both graph engines (the `datasources` fixture is parametrised).
"""

from __future__ import annotations

from dataclasses import replace

from ragweave.context import build_context
from ragweave.datasources.chat import OpenAIChat, openai_client
from ragweave.jobs import JobBoard
from ragweave.resolvers.extraction import RuleExtractor
from ragweave.resolvers.ingest import Ingestor, SourceDocument
from tests.graphql import SETTINGS, execute, schema
from tests.servers.openai_server import OpenAITestServer

SHARED = "Mara Quist leads the Atlas Team. The Atlas Team builds Beacon Console."
PRIVATE = {
    "a": "Zora Quill works at Ferry Works. Zora Quill leads the Ferry Team.",
    "b": "Otto Vance works at Kestrel Labs. Otto Vance leads the Kestrel Team.",
}

QUERY = """{
  search(query: "Who leads the team?", topK: 10) { chunk { id text } }
  retrieve(query: "Who leads the team?", topK: 10, maxHops: 3) {
    hits { chunk { text } citations { via { id } } } subgraph { nodes { id name } } }
  shared: chunk(id: "shared.md#0") { text entities { id } }
  other: document(id: "private.md") { title chunks { text } }
  atlas: entity(id: "team:atlas-team") { neighbors(hops: 3, first: 200) { id name } relations { type }
                                       mentions(first: 200) { text } }
  entities(first: 200) { edges { node { id name } } }
}"""


async def ingest(datasources, tenant: str, key: str) -> None:
    documents = [SourceDocument("shared.md", SHARED, "Shared"), SourceDocument("private.md", PRIVATE[key], key)]
    await Ingestor(datasources, tenant, "chunks", RuleExtractor(), 800, 120).run(documents)


async def test_no_query_field_crosses_tenants(datasources, tenant):
    tenants = {"a": f"{tenant}-a", "b": f"{tenant}-b"}
    for key, name in tenants.items():
        await ingest(datasources, name, key)
    for key, name in tenants.items():
        text = str((await execute(datasources, QUERY, tenant=name)).ok())
        other = "b" if key == "a" else "a"
        for word in PRIVATE[key].split()[:2]:
            assert word in text  # its own data is there
        for word in ("Zora", "Ferry", "Otto", "Kestrel"):
            if word in PRIVATE[other]:
                assert word not in text, (name, word)


async def test_chat_stream_sources_stay_in_the_tenant(datasources, tenant):
    a, b = f"{tenant}-a", f"{tenant}-b"
    await ingest(datasources, a, "a")
    await ingest(datasources, b, "b")
    with OpenAITestServer() as llm:
        async with openai_client(llm.base_url, "t", timeout=5, max_retries=0) as client:
            ds = replace(datasources, chat=OpenAIChat(client, "gpt-4o-mini", "test-server"))
            stream = await schema().subscribe(
                """subscription { chatStream(input: {messages: [{role: "user", content: "Who works where?"}],
                retrieve: {topK: 10, maxHops: 3}}) { __typename ... on ChatSources { hits { chunk { text } } } } }""",
                context_value=build_context(ds, SETTINGS, JobBoard(), tenant=b),
            )
            events = [r.data["chatStream"] async for r in stream]
        sources = events[0]
        prompt = llm.requests[-1].body["messages"][0]["content"]
    assert events[0]["__typename"] == "ChatSources"
    assert "Otto Vance" in str(sources) and "Zora" not in str(sources)
    assert "Otto Vance" in prompt and "Zora" not in prompt and "Ferry" not in prompt
