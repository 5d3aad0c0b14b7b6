"""The LLM clients' HTTP client: openai's aiohttp client, whose requests leave inside the call that sends them.

aiohttp writes a request's body in a task of its own. On Python 3.12+ that task starts eagerly, so the request
leaves inside `ClientRequest.send`; on 3.11 it waits for the event loop's next round, behind every callback already
due. Under a burst (100 chat requests at once) no LLM request left a worker before every request of the burst had
run up to its LLM call: each one waited for the whole burst. `EagerBodyRequest` starts the writer inside `send` on
3.11 as aiohttp itself does on 3.12.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Coroutine
from functools import partial
from typing import Any, TypeVar

import aiohttp
import httpx2
import openai
from httpx_aiohttp.httpx2 import AiohttpTransport

T = TypeVar("T")


def started(coro: Coroutine[Any, Any, T]) -> Coroutine[Any, Any, T]:
    """Runs `coro` now up to its first suspension; the coroutine returned runs the rest, as a Task would have."""
    try:
        waiting = coro.send(None)
    except StopIteration as stop:
        return _finished(stop.value)
    except Exception as exc:  # raised where the Task would have raised it: when the returned coroutine runs
        return _failed(exc)
    return _resumed(coro, waiting)


async def _finished(value: T) -> T:
    return value


async def _failed(exc: Exception) -> Any:
    raise exc


async def _resumed(coro: Coroutine[Any, Any, T], waiting: Any) -> T:
    while True:
        try:
            if waiting is None:  # a bare yield (asyncio.sleep(0)): one round of the loop
                await asyncio.sleep(0)
            else:
                await asyncio.wait((waiting,))
        except asyncio.CancelledError as exc:  # as Task.cancel does: the future waited for is cancelled, and the
            if waiting is not None:  # coroutine sees the cancellation where it waits
                waiting.cancel()
            step = partial(coro.throw, exc)
        else:
            step = partial(coro.send, None)
        try:
            waiting = step()
        except StopIteration as stop:
            return stop.value


class EagerBodyRequest(aiohttp.ClientRequest):
    def write_bytes(self, *args: Any, **kwargs: Any) -> Coroutine[Any, Any, None]:
        return started(super().write_bytes(*args, **kwargs))


def llm_http_client(max_connections: int) -> httpx2.AsyncClient:
    """`openai.DefaultAioHttpClient` (the SDK's timeouts and redirects, the aiohttp transport it vendors from
    httpx-aiohttp) on an aiohttp session of `max_connections`, with EagerBodyRequest on Python 3.11."""
    limits = httpx2.Limits(max_connections=max_connections)
    request_class = EagerBodyRequest if sys.version_info < (3, 12) else aiohttp.ClientRequest

    def session() -> aiohttp.ClientSession:  # made at the first request, inside the running loop
        connector = aiohttp.TCPConnector(
            limit=max_connections, keepalive_timeout=limits.keepalive_expiry, ssl=transport.ssl_context
        )
        return aiohttp.ClientSession(connector=connector, request_class=request_class)

    transport = AiohttpTransport(limits=limits, client=session)  # its SSL context, as its own session would use
    return openai.DefaultAioHttpClient(transport=transport)
