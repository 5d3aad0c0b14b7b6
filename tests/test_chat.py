"""chat and chatStream through the real openai client against the OpenAI-compatible test server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import replace

import pytest

from ragweave.context import build_context
from ragweave.datasources.chat import OpenAIChat, openai_client
from ragweave.datasources.lifecycle import Datasources
from ragweave.jobs import JobBoard
from tests.corpus import seed_corpus
from tests.graphql import SETTINGS, execute, schema
from tests.servers.openai_server import OpenAITestServer, drop_stream, hang, slow_stream, status

CHAT = """
mutation ($input: ChatInput!) {
  chat(input: $input) { content model provider usage { promptTokens completionTokens totalTokens }
                        citations { chunk { id } document { id } } }
}"""
STREAM = """
subscription ($input: ChatInput!) {
  chatStream(input: $input) {
    __typename
    ... on ChatSources { hits { chunk { id } } }
    ... on ChatDelta { text }
    ... on ChatDone { finishReason model provider usage { totalTokens } }
    ... on ChatFailed { code message retryable }
  }
}"""


@pytest.fixture
def llm_server() -> Iterator[OpenAITestServer]:
    with OpenAITestServer() as server:
        yield server


@pytest.fixture
async def chat_ds(datasources: Datasources, llm_server: OpenAITestServer) -> AsyncIterator[Datasources]:
    client = openai_client(llm_server.base_url, "test", timeout=3.0, max_retries=0)
    yield replace(datasources, chat=OpenAIChat(client, "gpt-4o-mini", provider="test-server"))
    await client.close()


def ask(text: str, **extra: object) -> dict[str, object]:
    return {"input": {"messages": [{"role": "user", "content": text}], **extra}}


async def test_chat_answers_with_usage_model_and_provider(chat_ds: Datasources, tenant: str):
    data = (await execute(chat_ds, CHAT, ask("hello there"), tenant=tenant)).ok()["chat"]
    assert data["content"] == "Echo: hello there"
    assert data["model"] == "gpt-4o-mini" and data["provider"] == "test-server"
    assert data["usage"]["completionTokens"] == 3 and data["citations"] == []


async def test_grounded_chat_puts_numbered_sources_in_the_prompt_and_cites_what_the_answer_cites(
    chat_ds: Datasources, llm_server: OpenAITestServer, tenant: str
):
    await seed_corpus(chat_ds, tenant, size=12)
    llm_server.reply_with("Person 3 reviewed it [2], see also [9] and [2].")
    response = await execute(chat_ds, CHAT, ask("Who reviewed the plan?", retrieve={"topK": 3}), tenant=tenant)
    data = response.ok()["chat"]
    system_prompt = llm_server.requests[-1].body["messages"][0]
    assert system_prompt["role"] == "system" and "[1]" in system_prompt["content"] and "[3]" in system_prompt["content"]
    assert "[4]" not in system_prompt["content"]
    sources = [line for line in system_prompt["content"].splitlines() if line.startswith("[2] ")]
    assert len(data["citations"]) == 1  # [9] does not exist, [2] counts once
    assert sources and data["citations"][0]["document"]["id"] in sources[0].replace("Memo ", "doc-")


async def test_json_mode_fails_with_bad_llm_output_when_the_answer_is_not_json(
    chat_ds: Datasources, llm_server: OpenAITestServer, tenant: str
):
    llm_server.reply_json("not json {")
    response = await execute(chat_ds, CHAT, ask("give json", jsonMode=True), tenant=tenant)
    assert response.codes() == ["BAD_LLM_OUTPUT"]
    llm_server.reply_json({"answer": 42})
    data = (await execute(chat_ds, CHAT, ask("give json", jsonMode=True), tenant=tenant)).ok()["chat"]
    assert data["content"] == '{"answer": 42}' or data["content"].replace(" ", "") == '{"answer":42}'
    assert llm_server.requests[-1].body["response_format"] == {"type": "json_object"}


async def test_upstream_errors_are_coded(chat_ds: Datasources, llm_server: OpenAITestServer, tenant: str):
    llm_server.script(status(500))
    assert (await execute(chat_ds, CHAT, ask("x"), tenant=tenant)).codes() == ["LLM_UNAVAILABLE"]
    llm_server.script(hang())
    assert (await execute(chat_ds, CHAT, ask("x"), tenant=tenant)).codes() == ["LLM_TIMEOUT"]


async def test_an_answer_that_is_not_a_chat_completion_is_llm_unavailable(
    chat_ds: Datasources, llm_server: OpenAITestServer, tenant: str
):
    llm_server.script(status(200, body={"object": "chat.completion", "choices": []}))
    assert (await execute(chat_ds, CHAT, ask("x"), tenant=tenant)).codes() == ["LLM_UNAVAILABLE"]
    llm_server.script(status(200, body="not json"))
    assert (await execute(chat_ds, CHAT, ask("x"), tenant=tenant)).codes() == ["LLM_UNAVAILABLE"]


async def test_chat_without_an_llm_is_llm_not_configured(datasources: Datasources, tenant: str):
    assert (await execute(datasources, CHAT, ask("x"), tenant=tenant)).codes() == ["LLM_NOT_CONFIGURED"]


async def subscribe(ds: Datasources, tenant: str, variables: dict[str, object]):
    context = build_context(ds, SETTINGS, JobBoard(), tenant=tenant)
    return await schema().subscribe(STREAM, variable_values=variables, context_value=context)


async def test_chat_stream_yields_sources_deltas_then_done(chat_ds: Datasources, tenant: str):
    await seed_corpus(chat_ds, tenant, size=6)
    events = [r.data["chatStream"] async for r in await subscribe(chat_ds, tenant, ask("alpha beta gamma",
                                                                                        retrieve={"topK": 2}))]
    kinds = [e["__typename"] for e in events]
    assert kinds[0] == "ChatSources" and len(events[0]["hits"]) == 2
    assert kinds[-1] == "ChatDone" and set(kinds[1:-1]) == {"ChatDelta"}
    assert "".join(e["text"] for e in events[1:-1]) == "Echo: alpha beta gamma"
    assert events[-1]["finishReason"] == "stop" and events[-1]["usage"]["totalTokens"] > 0


async def test_chat_stream_failure_after_start_ends_with_chat_failed(
    chat_ds: Datasources, llm_server: OpenAITestServer, tenant: str
):
    llm_server.script(drop_stream(after_chunks=2))
    events = [r.data["chatStream"] async for r in await subscribe(chat_ds, tenant, ask("one two three four"))]
    assert events[-1]["__typename"] == "ChatFailed"
    assert events[-1]["code"] == "LLM_UNAVAILABLE" and events[-1]["retryable"] is True


async def test_closing_the_subscription_closes_the_upstream_stream(
    chat_ds: Datasources, llm_server: OpenAITestServer, tenant: str
):
    llm_server.script(slow_stream(0.2))
    stream = await subscribe(chat_ds, tenant, ask(" ".join(f"w{i}" for i in range(40))))
    first = await anext(stream)
    assert first.data["chatStream"]["__typename"] == "ChatDelta"
    await stream.aclose()
    cancel = await llm_server.wait_for_cancel(1.0)
    assert cancel.kind == "stream"
