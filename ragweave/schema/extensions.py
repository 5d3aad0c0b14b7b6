"""Schema extensions: stable error codes with masking, and the debug extensions (backend calls, timings)."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from ragweave.datasources.calls import CallLog, current_call_log
from ragweave.errors import AppError

log = logging.getLogger("ragweave")


def _code_for(error: GraphQLError) -> str | None:
    """The code of an error we raised on purpose or of a request the schema refused; None means a bug."""
    original = error.original_error
    if isinstance(original, AppError):
        return original.code
    if original is None:
        if error.extensions and "code" in error.extensions:
            return str(error.extensions["code"])
        return "GRAPHQL_VALIDATION_FAILED" if error.nodes else "GRAPHQL_PARSE_FAILED"
    return None


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
    """Codes every error of an operation. Parse errors that ParserCache raises skip this hook; the HTTP
    view's `process_result` codes those."""

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is not None and result.errors:
            result.errors = [coded(e) for e in result.errors]


class Authentication(SchemaExtension):
    """Refuses the whole operation when the request's credentials were missing or wrong."""

    def on_operation(self) -> Iterator[None]:
        error = getattr(self.execution_context.context, "auth_error", None)
        if error is not None:
            raise error
        yield


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
        timings = {name: round(ms, 3) for name, ms in {**self._log.millis, **self._log.stages}.items()}
        timings["total"] = round((time.perf_counter() - self._started) * 1000, 3)
        return {"backendCalls": dict(self._log.calls), "timings": timings}


class ReportingDebugExtensions(DebugExtensions):
    report = True
