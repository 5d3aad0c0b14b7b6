"""openai clients that test helpers make, closed after each test of a module that uses `close_llm_clients`
(`pytestmark = pytest.mark.usefixtures("close_llm_clients")`); their aiohttp sessions would otherwise stay open
until the interpreter exits."""

from __future__ import annotations

import openai

from ragweave.datasources.chat import openai_client

_open: list[openai.AsyncOpenAI] = []


def tracked_client(base_url: str, *, timeout: float, retries: int = 0) -> openai.AsyncOpenAI:
    _open.append(openai_client(base_url, "t", timeout=timeout, max_retries=retries))
    return _open[-1]


async def close_all() -> None:
    while _open:
        await _open.pop().close()
