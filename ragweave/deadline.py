"""One deadline per request, split across its stages, enforced at the datasource boundary.

The operation sets the request's deadline in a context variable; a stage (the graph expansion of `retrieve`,
the grounding of `chat`) narrows it to a share of the time left, so the stages after it keep theirs. Every
backend call (`calls.counted`) runs under the current deadline and is cancelled when it runs out: the call
raises `DeadlineExceeded` (`<BACKEND>_TIMEOUT`), the stage reports it, and nothing keeps running afterwards.
Tasks started while resolving (DataLoader batches) inherit the deadline of the code that started them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

from ragweave.errors import BackendTimeout

T = TypeVar("T")


class Deadline:
    """A point in the loop's time, and the backend calls waiting under it. One timer per deadline, started by its
    first call, cancels every call still waiting when it fires (an `asyncio.timeout_at` per call would schedule and
    cancel a timer for each; a request makes several). The loop is kept: on Python 3.11 each
    `asyncio.get_running_loop()` (and `current_task()` without a loop) makes a `getpid` system call."""

    __slots__ = ("_cancelled", "_closed", "_timer", "_waiting", "expires", "loop")

    def __init__(self, expires: float, loop: asyncio.AbstractEventLoop) -> None:
        self.expires = expires
        self.loop = loop
        self._waiting: dict[asyncio.Task, int] = {}  # task -> calls it is inside (a call may wrap another)
        self._cancelled: set[asyncio.Task] = set()  # tasks this deadline cancelled, until they see it
        self._timer: asyncio.TimerHandle | None = None
        self._closed = False

    def enter(self, task: asyncio.Task) -> None:
        self._waiting[task] = self._waiting.get(task, 0) + 1
        if self._timer is None:
            self._timer = self.loop.call_at(self.expires, self._expire)

    def leave(self, task: asyncio.Task) -> bool:
        """Whether this deadline cancelled the task's call (the task is owed an `uncancel`)."""
        depth = self._waiting.pop(task)
        if depth > 1:
            self._waiting[task] = depth - 1
        elif self._closed and not self._waiting:
            self._stop_timer()
        if task in self._cancelled:
            self._cancelled.discard(task)
            return True
        return False

    def close(self) -> None:
        """The scope that set the deadline ended. Calls it started elsewhere (a DataLoader batch) may still be
        waiting: the timer stays until they end, so they are cancelled on time as well."""
        self._closed = True
        if not self._waiting:
            self._stop_timer()

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expire(self) -> None:
        self._timer = None
        for task in self._waiting:
            if task not in self._cancelled:
                self._cancelled.add(task)
                task.cancel()


current_deadline: ContextVar[Deadline | None] = ContextVar("current_deadline", default=None)


class DeadlineExceeded(BackendTimeout):
    """The request's deadline (or its stage's share) ran out during this backend call."""

    def __init__(self, backend: str) -> None:
        super().__init__(backend, f"the {backend} call was cancelled: the request's deadline ran out")


def remaining() -> float | None:
    """Seconds left before the current deadline (None when there is none)."""
    current = current_deadline.get()
    return None if current is None else current.expires - current.loop.time()


def capped(seconds: float) -> float:
    """A backend's own timeout, shortened to the time left (never 0, which some servers read as "none")."""
    left = remaining()
    return seconds if left is None else max(0.001, min(seconds, left))


class _Scope:
    """The deadline in force inside a `with` block (a class: `contextmanager`'s generator costs more per request)."""

    __slots__ = ("_current", "_token")

    def __init__(self, current: Deadline | None) -> None:
        self._current = current

    def __enter__(self) -> None:
        self._token = current_deadline.set(self._current)

    def __exit__(self, *exc_info: object) -> None:
        if self._current is not None:
            self._current.close()
        current_deadline.reset(self._token)


def request_deadline(seconds: float | None, loop: asyncio.AbstractEventLoop | None = None
                     ) -> AbstractContextManager[None]:
    """The deadline of a whole request (None lifts it, e.g. for ingestion, which is bounded by its inputs), in the
    running loop (`loop`, where the caller has it already)."""
    if seconds is None:
        return _Scope(None)
    loop = loop or asyncio.get_running_loop()
    return _Scope(Deadline(loop.time() + seconds, loop))


@contextmanager
def stage(share: float) -> Iterator[None]:
    """A stage that may use `share` (0..1] of the time left; without a request deadline it is unbounded."""
    current = current_deadline.get()
    if current is None:
        yield
        return
    now = current.loop.time()
    with _Scope(Deadline(min(current.expires, now + max(current.expires - now, 0.0) * share), current.loop)):
        yield


async def bounded(backend: str, call: Coroutine[Any, Any, T]) -> T:
    """Await a backend call under the current deadline. A call running in a worker thread (qdrant-edge)
    cannot be interrupted: the request stops waiting for it, the thread finishes on its own. Some clients
    finish a request in flight despite the cancellation (redis-py, under FalkorDB): their late answer is
    refused too, and their runners pass `remaining()` to the server as its own query timeout."""
    current = current_deadline.get()
    if current is None:
        return await call
    loop = current.loop
    if current.expires <= loop.time():
        call.close()  # never started
        raise DeadlineExceeded(backend)
    task = asyncio.current_task(loop)
    assert task is not None
    cancelling = task.cancelling()
    current.enter(task)
    try:
        result = await call
    except asyncio.CancelledError:
        if current.leave(task) and task.uncancel() <= cancelling:
            raise DeadlineExceeded(backend) from None
        raise  # cancelled from elsewhere too (the client went away): that cancellation wins
    except BaseException:
        if current.leave(task):
            task.uncancel()
        raise
    if current.leave(task):  # the answer came in as the deadline fired: refused like a late one
        task.uncancel()
        raise DeadlineExceeded(backend)
    return result
