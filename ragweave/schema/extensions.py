"""Schema extensions: stable error codes with masking, and the debug extensions (backend calls, timings)."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

from graphql import GraphQLError, GraphQLSyntaxError
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from ragweave.datasources.calls import CallLog, current_call_log
from ragweave.deadline import request_deadline
from ragweave.errors import AppError
from ragweave.resolvers.cost import operation_cost

log = logging.getLogger("ragweave")


def _code_for(error: GraphQLError) -> str | None:
    """The code of an error we raised on purpose or of a request the schema refused; None means a bug."""
    original = error.original_error
    if isinstance(original, AppError):
        return original.code
    if isinstance(original, GraphQLError):  # graphql-core refusing a request's values, e.g. a missing variable
        return "BAD_USER_INPUT"
    if original is None:
        if error.extensions and "code" in error.extensions:
            return str(error.extensions["code"])
        return "GRAPHQL_PARSE_FAILED" if isinstance(error, GraphQLSyntaxError) else "GRAPHQL_VALIDATION_FAILED"
    return None


def expected(error: GraphQLError) -> bool:
    """An error with a code of its own: one we raised on purpose or a request the schema refused."""
    return _code_for(error) is not None


def coded(error: GraphQLError) -> GraphQLError:
    """The error with `extensions.code`; an unexpected exception becomes INTERNAL_SERVER_ERROR with a
    request id that is also in the log line, and its message never leaks."""
    code = _code_for(error)
    if code is not None:
        error.extensions = {**(error.extensions or {}), "code": code}
        return error
    request_id = uuid.uuid4().hex[:12]
    log.error("internal error %s at %s", request_id, error.path, exc_info=error.original_error)
    return GraphQLError(
        "Internal server error", nodes=error.nodes, path=error.path,
        extensions={"code": "INTERNAL_SERVER_ERROR", "requestId": request_id},
    )


class ErrorCodes(SchemaExtension):
    """Codes every error of an operation. Parse errors that the document cache raises skip this hook; the HTTP
    view's `process_result` codes those."""

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is not None and result.errors:
            result.errors = [coded(e) for e in result.errors]


class Authentication(SchemaExtension):
    """Refuses the whole operation when the request's credentials were missing or wrong. It raises when parsing
    starts, not from `on_operation`: an `on_operation` hook that raises on entry leaves the operation hooks
    entered before it (metrics, logs, traces) without their exit (Strawberry's OperationContextManager)."""

    def on_parse(self) -> Iterator[None]:
        error = getattr(self.execution_context.context, "auth_error", None)
        if error is not None:
            raise error
        yield


class CostLimits(SchemaExtension):
    """Computes the operation's cost before execution; refuses it over the budget (COST_LIMIT) or over the
    caller's rate (RATE_LIMITED, with `retryAfter`); reports it in `extensions.cost`."""

    _cost: int | None = None

    async def on_execute(self) -> AsyncIterator[None]:
        ec = self.execution_context
        self._cost = cost = operation_cost(ec.schema._schema, ec.graphql_document, ec.variables, ec.operation_name)
        budget = ec.context.settings.max_cost
        if cost > budget:
            raise AppError(f"the operation costs {cost}, over the budget of {budget}: ask for fewer items",
                           code="COST_LIMIT", cost=cost, budget=budget)
        await take_rate(ec.context, cost)
        yield

    def get_results(self) -> dict[str, object]:
        return cost_results(self._cost)


async def take_rate(context: Any, cost: int) -> None:
    """Take `cost` from the caller's rate; refuses the operation (RATE_LIMITED, with `retryAfter`) when short."""
    if context.limiter is not None:
        wait = await context.limiter.take(context.rate_key, cost)
        if wait:
            raise AppError("rate limit exceeded", code="RATE_LIMITED", retryAfter=round(wait, 3), cost=cost)


def cost_results(cost: int | None) -> dict[str, object]:
    return {} if cost is None else {"cost": {"estimated": cost}}


class RequestDeadline(SchemaExtension):
    """Starts the request's deadline (`ragweave.deadline`) for queries and mutations. A subscription outlives
    any request deadline; `chatStream` bounds its own grounding stage."""

    def on_execute(self) -> Iterator[None]:
        ec = self.execution_context
        if ec.operation_type is OperationType.SUBSCRIPTION:
            yield
            return
        with request_deadline(ec.context.settings.request_deadline_s, ec.context.loaders.loop):
            yield


class ReleaseLoaders(SchemaExtension):
    """Empties the request's DataLoaders when its operation ends (see `Loaders.close`). A WebSocket connection
    shares one context across its operations: they get fresh loaders, and nothing is cached across them."""

    def on_operation(self) -> Iterator[None]:
        try:
            yield
        finally:
            loaders = getattr(self.execution_context.context, "loaders", None)
            if loaders is not None:
                loaders.close()


class DebugExtensions(SchemaExtension):
    """Counts backend calls per operation; with `report=True` adds them and timings to the response."""

    report = False
    _log: CallLog | None = None

    def on_operation(self) -> Iterator[None]:
        call_log = getattr(self.execution_context.context, "call_log", None) or CallLog()
        token = current_call_log.set(call_log)
        self._log = call_log
        self._started = time.perf_counter()
        try:
            yield
        finally:
            current_call_log.reset(token)

    def get_results(self) -> dict[str, object]:
        if not self.report or self._log is None:
            return {}
        return debug_results(self._log, self._started)


def debug_results(call_log: CallLog, started: float) -> dict[str, object]:
    """`extensions.backendCalls` and `extensions.timings` (milliseconds; `total` since `started`)."""
    timings = {name: round(ms, 3) for name, ms in {**call_log.millis, **call_log.stages}.items()}
    timings["total"] = round((time.perf_counter() - started) * 1000, 3)
    return {"backendCalls": dict(call_log.calls), "timings": timings}


class ReportingDebugExtensions(DebugExtensions):
    report = True
