"""The OpenAI-compatible test server (tests/servers/openai_server.py) in a process of its own, with latency.

    python -m perf.openai_process --port P --latency 0.3 [--json-reply JSON]
    python -m perf.openai_process --port P --latency 0 --first-token 0.3 --chunk-delay 0.1   (for streams)

The test server normally runs in a thread of the test process (h11, asyncio). Here its Starlette app is served
by uvicorn with httptools on uvloop where installed, in this process's main loop, so that its CPU does not
compete with the server under test inside one interpreter. It keeps every request in memory (bounded runs).
"""

from __future__ import annotations

import argparse
import asyncio

import uvicorn

from tests.servers.openai_server import OpenAITestServer


async def serve(
    port: int, latency: float, json_reply: str = "{}", first_token: float = 0.0, chunk_delay: float = 0.0
) -> None:
    server = OpenAITestServer()
    server.latency, server.first_token_latency, server.chunk_delay = latency, first_token, chunk_delay
    server.reply_json(json_reply)
    server._loop, server._stop = asyncio.get_running_loop(), asyncio.Event()  # what start() sets in its thread
    config = uvicorn.Config(server.app, host="127.0.0.1", port=port, lifespan="off", log_level="warning",
                            access_log=False, http="auto", timeout_graceful_shutdown=2)
    await uvicorn.Server(config).serve()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--latency", type=float, default=0.3, help="seconds before answering any request")
    parser.add_argument("--json-reply", default="{}", help="the answer to JSON-mode requests (graph extraction)")
    parser.add_argument("--first-token", type=float, default=0.0, help="seconds before a stream's first event")
    parser.add_argument("--chunk-delay", type=float, default=0.0, help="seconds before each later stream event")
    args = parser.parse_args()
    try:
        from uvloop import run
    except ImportError:
        run = asyncio.run
    run(serve(args.port, args.latency, args.json_reply, args.first_token, args.chunk_delay))


if __name__ == "__main__":
    main()
