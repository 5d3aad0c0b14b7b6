"""One deadline per request, split across its stages, enforced at the datasource boundary.

The operation sets the request's deadline in a context variable; a stage (the graph expansion of `retrieve`,
the grounding of `chat`) narrows it to a share of the time left, so the stages after it keep theirs. Every
backend call (`calls.counted`) runs under the current deadline and is cancelled when it runs out: the call
raises `DeadlineExceeded` (`<BACKEND>_TIMEOUT`), the stage reports it, and nothing keeps running afterwards.
Tasks started while resolving (DataLoader batches) inherit the deadline of the code that started them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TypeVar

from ragweave.errors import BackendTimeout

T = TypeVar("T")

current_deadline: ContextVar[float | None] = ContextVar("current_deadline", default=None)


class DeadlineExceeded(BackendTimeout):
    """The request's deadline (or its stage's share) ran out during this backend call."""

    def __init__(self, backend: str) -> None:
        super().__init__(backend, f"the {backend} call was cancelled: the request's deadline ran out")


def _now() -> float:
    return asyncio.get_running_loop().time()


def remaining() -> float | None:
    """Seconds left before the current deadline (None when there is none)."""
    expires = current_deadline.get()
    return None if expires is None else expires - _now()


def capped(seconds: float) -> float:
    """A backend's own timeout, shortened to the time left (never 0, which some servers read as "none")."""
    left = remaining()
    return seconds if left is None else max(0.001, min(seconds, left))


@contextmanager
def request_deadline(seconds: float | None) -> Iterator[None]:
    """The deadline of a whole request (None lifts it, e.g. for ingestion, which is bounded by its inputs)."""
    token = current_deadline.set(None if seconds is None else _now() + seconds)
    try:
        yield
    finally:
        current_deadline.reset(token)


@contextmanager
def stage(share: float) -> Iterator[None]:
    """A stage that may use `share` (0..1] of the time left; without a request deadline it is unbounded."""
    expires = current_deadline.get()
    if expires is None:
        yield
        return
    now = _now()
    token = current_deadline.set(min(expires, now + max(expires - now, 0.0) * share))
    try:
        yield
    finally:
        current_deadline.reset(token)


async def bounded(backend: str, call: Awaitable[T]) -> T:
    """Await a backend call under the current deadline. A call running in a worker thread (qdrant-edge)
    cannot be interrupted: the request stops waiting for it, the thread finishes on its own. Some clients
    finish a request in flight despite the cancellation (redis-py, under FalkorDB): their late answer is
    refused too, and their runners pass `remaining()` to the server as its own query timeout."""
    expires = current_deadline.get()
    if expires is None:
        return await call
    timeout = asyncio.timeout_at(expires)
    try:
        async with timeout:
            result = await call
    except TimeoutError:
        if timeout.expired():
            raise DeadlineExceeded(backend) from None
        raise
    if timeout.expired():
        raise DeadlineExceeded(backend)
    return result
