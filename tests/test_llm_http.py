"""The LLM HTTP client: a request leaves inside the call that sends it (ragweave/datasources/llm_http.py)."""

from __future__ import annotations

import asyncio
import json
import re
import select
from collections.abc import AsyncIterator

import pytest

from ragweave import records
from ragweave.datasources.chat import OpenAIChat, openai_client
from ragweave.datasources.llm_http import started

COMPLETION = {
    "id": "c1", "object": "chat.completion", "created": 0, "model": "m",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "hello"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
}


async def test_a_coroutine_that_never_waits_has_run_when_started_returns() -> None:
    ran = []

    async def work() -> int:
        ran.append("body")
        return 7

    rest = started(work())
    assert ran == ["body"]
    assert await rest == 7


async def test_a_coroutine_that_waits_runs_up_to_the_wait_and_then_on_in_a_task() -> None:
    ran, gate = [], asyncio.get_running_loop().create_future()

    async def work() -> int:
        ran.append("before")
        value = await gate
        ran.append("after")
        return value + 1

    task = asyncio.ensure_future(started(work()))
    assert ran == ["before"]
    await asyncio.sleep(0)
    assert ran == ["before"] and not task.done()
    gate.set_result(41)
    assert await task == 42
    assert ran == ["before", "after"]


async def test_errors_reach_the_coroutine_where_it_waits_and_the_awaiter_when_it_raises() -> None:
    gate = asyncio.get_running_loop().create_future()

    async def catches() -> str:
        try:
            await gate
        except ValueError as exc:
            return f"caught {exc}"
        return "not raised"

    task = asyncio.ensure_future(started(catches()))
    gate.set_exception(ValueError("boom"))
    assert await task == "caught boom"

    async def fails_at_once() -> None:
        raise KeyError("first step")

    rest = started(fails_at_once())  # raised when awaited, as a Task raises it, not by started()
    with pytest.raises(KeyError, match="first step"):
        await rest


async def test_cancelling_the_task_cancels_the_wait_and_the_coroutine_sees_it() -> None:
    seen, gate = [], asyncio.get_running_loop().create_future()

    async def work() -> None:
        try:
            await gate
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise

    task = asyncio.ensure_future(started(work()))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert seen == ["cancelled"]
    assert gate.cancelled()


async def test_bare_yields_take_one_round_each() -> None:
    ran = []

    async def work() -> str:
        for step in range(3):
            ran.append(step)
            await asyncio.sleep(0)
        return "done"

    task = asyncio.ensure_future(started(work()))
    assert ran == [0]
    assert await task == "done"
    assert ran == [0, 1, 2]


@pytest.fixture
async def plain_llm() -> AsyncIterator[tuple[OpenAIChat, list]]:
    """A loopback HTTP server answering every POST with one chat completion; yields the server-side sockets."""
    sockets: list = []

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sockets.append(writer.get_extra_info("socket"))
        body = json.dumps(COMPLETION).encode()
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(re.search(rb"content-length: *(\d+)", head, re.I).group(1))
                await reader.readexactly(length)
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                             b"content-length: %d\r\n\r\n%s" % (len(body), body))
        except asyncio.IncompleteReadError:
            writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = openai_client(f"http://127.0.0.1:{port}/v1", "t", timeout=5, max_retries=0)
    yield OpenAIChat(client, "m", "test"), sockets
    await client.close()
    server.close()
    await server.wait_closed()


async def test_an_llm_request_is_on_the_wire_when_its_task_first_waits(plain_llm) -> None:
    """Under a burst, a request whose body waits for the loop's next round waits behind every other request."""
    chat, sockets = plain_llm
    messages = [records.ChatMessage("user", "hi")]
    assert (await chat.complete(messages)).content == "hello"  # connects; the connection is then reused
    (server_socket,) = sockets
    loop = asyncio.get_running_loop()
    on_the_wire = loop.create_future()
    request = asyncio.ensure_future(chat.complete(messages))
    # runs right after the request task's first step, before anything that step scheduled
    loop.call_soon(lambda: on_the_wire.set_result(bool(select.select([server_socket.fileno()], [], [], 0)[0])))
    assert await on_the_wire is True
    assert (await request).content == "hello"
