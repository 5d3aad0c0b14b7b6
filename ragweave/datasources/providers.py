"""A chain of OpenAI-compatible providers: fallback, circuit breaker, hedged requests, bounded concurrency.

Retries with exponential backoff, jitter and `Retry-After` are the official client's (`max_retries`); this module
adds what it does not do: falling back to the next provider, skipping a provider that keeps failing for a
cool-down, and hedging latency-sensitive calls (if the first provider has not answered within `hedge_delay_s`,
the next one starts too; the first *valid* answer wins and the others are cancelled, closing their connections).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from ragweave import records
from ragweave.datasources.chat import ALIASES, OpenAIChat
from ragweave.deadline import DeadlineExceeded
from ragweave.errors import AppError, BackendUnavailable

T = TypeVar("T")


@dataclass(slots=True)
class CircuitBreaker:
    threshold: int = 3
    cooldown_s: float = 30.0
    failures: int = 0
    open_until: float = 0.0

    def allows(self) -> bool:
        return time.monotonic() >= self.open_until

    def succeeded(self) -> None:
        self.failures, self.open_until = 0, 0.0

    def failed(self) -> None:
        self.failures += 1
        if self.failures >= self.threshold:
            self.open_until = time.monotonic() + self.cooldown_s


@dataclass(slots=True)
class Provider:
    name: str
    chat: OpenAIChat
    models: dict[str, str]
    limit: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(16))
    breaker: CircuitBreaker = field(default_factory=CircuitBreaker)
    # A stream holds its permit until the last token, mostly idle: sharing `limit` would make the 65th user wait
    # for someone's whole answer before seeing a first token, and would block non-streamed calls meanwhile.
    stream_limit: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(1000))

    def model_for(self, requested: str) -> str | None:
        if requested in ALIASES:
            return self.models.get(requested)
        return requested if requested in self.models.values() else None


async def first_valid(starters: Sequence[Callable[[], Awaitable[T]]], hedge_delay_s: float | None) -> T:
    """Start the first attempt; start the next one when the running ones fail or, with a hedge delay, when
    none has answered in time. Return the first success; cancel and await the rest."""
    if len(starters) == 1:  # nothing to fall back or hedge to: no task to start and watch
        return await starters[0]()
    queue = list(starters)
    pending: set[asyncio.Task[T]] = set()
    last_error: BaseException | None = None
    try:
        while queue or pending:
            if queue:
                pending.add(asyncio.ensure_future(queue.pop(0)()))
            timeout = hedge_delay_s if queue else None
            done, pending = await asyncio.wait(pending, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task.exception() is None:
                    return task.result()
                last_error = task.exception()
        assert last_error is not None
        raise last_error
    finally:
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)


class ProviderChain:
    """A ChatModel over several providers, in fallback order."""

    def __init__(self, providers: Sequence[Provider], hedge_delay_s: float = 1.0) -> None:
        self.providers = list(providers)
        self.hedge_delay_s = hedge_delay_s
        self.model = providers[0].models.get("chat", "")
        self.provider = providers[0].name

    def _candidates(self, requested: str) -> list[tuple[Provider, str]]:
        serving = [(p, m) for p in self.providers if (m := p.model_for(requested))]
        if not serving:
            first = self.providers[0]
            serving = [(first, requested)]
        healthy = [(p, m) for p, m in serving if p.breaker.allows()]
        return healthy or serving

    async def _attempt(self, provider: Provider, call: Callable[[], Awaitable[T]]) -> T:
        async with provider.limit:
            try:
                result = await call()
            except (asyncio.CancelledError, DeadlineExceeded):  # the request gave up: not the provider's fault
                raise
            except AppError:
                provider.breaker.failed()
                raise
        provider.breaker.succeeded()
        return result

    async def complete(
        self, messages, *, model=None, temperature=None, json_mode=False, validate=None, hedge=True, json_schema=None
    ) -> records.Completion:
        def starter(provider: Provider, concrete: str) -> Callable[[], Awaitable[records.Completion]]:
            async def call() -> records.Completion:
                return await provider.chat.complete(
                    messages, model=concrete, temperature=temperature, json_mode=json_mode, validate=validate,
                    json_schema=json_schema,
                )

            return lambda: self._attempt(provider, call)

        starters = [starter(p, m) for p, m in self._candidates(model or "chat")]
        return await first_valid(starters, self.hedge_delay_s if hedge else None)

    async def stream(self, messages, *, model=None, temperature=None) -> AsyncIterator[str | records.Completion]:
        """Falls back silently while no token has been sent; after the first token, a failure is final."""
        last_error: AppError | None = None
        for provider, concrete in self._candidates(model or "chat"):
            started = False
            async with provider.stream_limit:
                try:
                    async for part in provider.chat.stream(messages, model=concrete, temperature=temperature):
                        started = True
                        yield part
                    provider.breaker.succeeded()
                    return
                except DeadlineExceeded:
                    raise
                except AppError as exc:
                    provider.breaker.failed()
                    if started:
                        raise
                    last_error = exc
        raise last_error or BackendUnavailable("llm", "no provider could answer")

    def health(self) -> list[records.BackendHealth]:
        return [
            records.BackendHealth(f"llm:{p.name}", p.breaker.allows(), None,
                                  None if p.breaker.allows() else f"circuit open after {p.breaker.failures} failures")
            for p in self.providers
        ]
