"""Admission limit per process: at most `max_in_flight` GraphQL HTTP requests execute at once.

The others wait in arrival order; one that cannot start within `max_wait_s`, or that finds `max_queued` requests
already waiting, is answered HTTP 503 `OVERLOADED` with `Retry-After` and never executes. Past saturation this
keeps the latency of the requests that run bounded and fails the excess fast, where without it every request
queues inside the event loop and all of them get slow.

Only GraphQL requests over HTTP count. Health, readiness, metrics, static files, WebSockets and streamed
subscriptions (SSE, multipart) pass straight through: streams are long-lived and have a limit of their own
(RAGWEAVE_STREAM_CONCURRENCY). A slot is released when the request's app call returns or raises, whatever the
client did meanwhile; a request whose client left while it waited still runs once admitted.
"""

from __future__ import annotations

import asyncio
import math

from starlette.types import Scope, Send

from ragweave.limits import send_error
from ragweave.observability.metrics import Metrics

STREAM_TYPES = (b"text/event-stream", b"multipart/mixed")


def counted(scope: Scope, path: str) -> bool:
    """A GraphQL request over HTTP that is neither a streamed subscription nor a browser asking for GraphiQL."""
    if scope["type"] != "http" or scope["path"] != path or scope["method"] not in ("GET", "POST"):
        return False
    # `find`, not `in`: `bytes in bytes` first tries the operand as an integer, raising and clearing a TypeError
    accept = b",".join(value for name, value in scope["headers"] if name == b"accept").lower()
    if (scope["method"] == "GET" and accept.find(b"text/html") >= 0
            and scope.get("query_string", b"").find(b"query=") < 0):
        return False
    return all(accept.find(kind) < 0 for kind in STREAM_TYPES)


class Admission:
    """`max_in_flight` slots and the queue before them (`ragweave.front` applies them to the requests that count;
    a server without the limit has no `Admission`)."""

    def __init__(self, max_in_flight: int, max_wait_s: float, max_queued: int, metrics: Metrics | None = None) -> None:
        self.max_wait_s = max_wait_s
        self.max_queued = max_queued
        self.metrics = metrics
        self.slots = asyncio.Semaphore(max_in_flight)
        self.in_flight = 0
        self.queued = 0
        self.retry_after = max(1, math.ceil(max_wait_s))
        if metrics is not None:
            metrics.admission_in_flight.set_function(lambda: self.in_flight)
            metrics.admission_queued.set_function(lambda: self.queued)

    async def enter(self, send: Send) -> bool:
        """Whether a slot is held (`leave` gives it back); if not, the request was answered 503 OVERLOADED."""
        refused = await self._admit()
        if refused is None:
            self.in_flight += 1
            return True
        if self.metrics is not None:
            self.metrics.observe_shed(refused)
        await send_error(send, 503, "OVERLOADED", f"the server is overloaded ({refused}); retry later",
                         [(b"retry-after", str(self.retry_after).encode())], retryAfter=self.retry_after)
        return False

    def leave(self) -> None:
        self.in_flight -= 1
        self.slots.release()

    async def _admit(self) -> str | None:
        """None once a slot is held, else why not: "queue_full" or "wait" (no slot within max_wait_s)."""
        if not self.slots.locked():  # a free slot and nobody waiting: acquire() returns at once
            await self.slots.acquire()
            return None
        if self.queued >= self.max_queued:
            return "queue_full"
        self.queued += 1
        try:
            async with asyncio.timeout(self.max_wait_s):
                await self.slots.acquire()  # FIFO; a slot handed over as the timeout fires is given back
            return None
        except TimeoutError:
            return "wait"
        finally:
            self.queued -= 1
