"""Counting backend calls at the datasource boundary.

Datasources are app-scoped; the per-operation tally lives in a context variable that the debug extension
sets at the start of each operation. Tasks spawned while resolving inherit it, so DataLoader batches count
towards the operation that triggered them.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import ParamSpec, TypeVar

from ragweave.deadline import bounded
from ragweave.observability.tracing import backend_span, tracing_enabled

P = ParamSpec("P")
T = TypeVar("T")


@dataclass(slots=True)
class CallLog:
    """Calls, milliseconds per call name, milliseconds per stage. Plain dicts: every HTTP request makes a log, and
    a `Counter` costs a Python-level constructor each."""

    calls: dict[str, int] = field(default_factory=dict)
    millis: dict[str, float] = field(default_factory=dict)
    stages: dict[str, float] = field(default_factory=dict)

    def record(self, name: str, elapsed_ms: float) -> None:
        self.calls[name] = self.calls.get(name, 0) + 1
        self.millis[name] = self.millis.get(name, 0.0) + elapsed_ms


current_call_log: ContextVar[CallLog | None] = ContextVar("current_call_log", default=None)


def counted(name: str) -> Callable[[Callable[P, Awaitable[T]]], Callable[P, Awaitable[T]]]:
    """Count each call of an async datasource method as one `name` call (e.g. "graph.neighbors"), in a tracing
    span of that name when tracing is on, under the request's deadline (`ragweave.deadline`)."""

    backend = name.partition(".")[0]

    def decorate(method: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
        @functools.wraps(method)
        async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
            log = current_call_log.get()
            started = time.perf_counter()
            try:
                if not tracing_enabled():  # no span to enter (a no-op context manager is two calls more)
                    return await bounded(backend, method(*args, **kwargs))
                with backend_span(name):
                    return await bounded(backend, method(*args, **kwargs))
            finally:
                if log is not None:
                    log.record(name, (time.perf_counter() - started) * 1000)

        return wrapper

    return decorate


def record_call(name: str, elapsed_ms: float = 0.0) -> None:
    """Count one call where a decorator cannot wrap it (e.g. an async generator)."""
    log = current_call_log.get()
    if log is not None:
        log.record(name, elapsed_ms)


@contextmanager
def timed(stage: str) -> Iterator[None]:
    """Add the time spent in a block to the operation's `timings` under `stage`."""
    log = current_call_log.get()
    started = time.perf_counter()
    try:
        yield
    finally:
        if log is not None:
            log.stages[stage] = log.stages.get(stage, 0.0) + (time.perf_counter() - started) * 1000
