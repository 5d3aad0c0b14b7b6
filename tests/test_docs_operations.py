"""The frontend examples in docs/ run against the demo corpus, so they never rot."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from ragweave.context import build_context
from ragweave.datasources.chat import OpenAIChat, openai_client
from ragweave.jobs import JobBoard
from tests.graphql import SETTINGS, execute, schema
from tests.servers.openai_server import OpenAITestServer
from tests.test_query_api import demo  # noqa: F401  (the fixture)

DOCS = (Path(__file__).parent.parent / "docs" / "frontend-operations.graphql").read_text()


async def test_search_box_and_citations_panel(datasources, demo):  # noqa: F811
    hits = (await execute(datasources, DOCS, {"text": "harbour dashboard"}, tenant=demo, operation="SearchBox")).ok()
    assert len(hits["search"]) == 8 and all(h["chunk"]["document"]["title"] for h in hits["search"])
    panel = (await execute(datasources, DOCS, {"question": "Who leads the Platform Team?"}, tenant=demo,
                           operation="CitationsPanel")).ok()["retrieve"]
    assert len(panel["hits"]) == 5 and panel["degraded"] == []
    assert any(c["via"] for h in panel["hits"] for c in h["citations"])


async def test_entity_page_and_index(datasources, demo):  # noqa: F811
    page = (await execute(datasources, DOCS, {"id": "person:priya-nandan"}, tenant=demo,
                          operation="EntityPage")).ok()["entity"]
    assert page["name"] == "Priya Nandan" and page["neighbors"] and page["mentions"]
    assert {"type": "LEADS", "source": {"id": "person:priya-nandan", "name": "Priya Nandan"},
            "target": {"id": "team:signal-team", "name": "Signal Team"}} in page["relations"]
    first = (await execute(datasources, DOCS, {"after": None}, tenant=demo, operation="EntityIndex")).ok()
    after = first["entities"]["pageInfo"]["endCursor"]
    second = (await execute(datasources, DOCS, {"after": after}, tenant=demo, operation="EntityIndex")).ok()
    assert first["entities"]["edges"][-1]["node"]["id"] < second["entities"]["edges"][0]["node"]["id"]


async def test_streaming_chat(datasources, demo):  # noqa: F811
    with OpenAITestServer() as llm:
        async with openai_client(llm.base_url, "t", timeout=5, max_retries=0) as client:
            ds = replace(datasources, chat=OpenAIChat(client, "gpt-4o-mini", "test-server"))
            context = build_context(ds, SETTINGS, JobBoard(), tenant=demo)
            stream = await schema().subscribe(DOCS, variable_values={"question": "What is the Atlas Engine?"},
                                              context_value=context, operation_name="StreamingChat")
            events = [r.data["chatStream"]["__typename"] async for r in stream]
    assert events[0] == "ChatSources" and events[-1] == "ChatDone" and "ChatDelta" in events
