"""Operations telemetry: Prometheus metrics, one structured log line per operation, OpenTelemetry traces.

Each concern is a Strawberry SchemaExtension with an operation-level hook (no per-field hooks). They go first
in the schema's extension list, so they wrap the others: they time the whole operation and see the errors
after `ErrorCodes` has coded them. Backend calls come from the operation's CallLog (ragweave.datasources.calls).

This module and `tracing` import nothing heavy (no Strawberry, prometheus or OpenTelemetry) and no other ragweave
module at import time: ragweave.datasources.calls imports the tracing module, and the datasources stay usable
without the GraphQL layer (the ingest CLI).
"""

from __future__ import annotations

import functools
import re
import sys
from collections import Counter
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from strawberry.extensions import SchemaExtension
    from strawberry.types.execution import ExecutionContext

    from ragweave.datasources.calls import CallLog
    from ragweave.observability.metrics import Metrics

ANONYMOUS = "anonymous"
UNKNOWN = "unknown"
INVALID = "invalid"
_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]{0,99}")


# Imported on first use, then kept: an import statement run per operation goes through the import system (and
# raises and clears an AttributeError for the module's missing `__path__`).
@functools.cache
def _pre_execution_error() -> type:
    from strawberry.types.execution import PreExecutionError

    return PreExecutionError


@functools.cache
def _current_call_log() -> Any:
    from ragweave.datasources.calls import current_call_log  # lazily: calls.py imports the tracing module

    return current_call_log


def operation_name(ec: ExecutionContext) -> str | None:
    """The operation's name; a client-sent `operationName` that is no GraphQL name (or is over 100 characters)
    becomes "invalid", so it cannot forge log lines or bloat labels."""
    name = ec.operation_name
    if name is None or _NAME.fullmatch(name):
        return name
    return INVALID


def operation_type(ec: ExecutionContext) -> str:
    """"query" | "mutation" | "subscription", or "unknown" when the document did not parse or name an operation."""
    if ec.graphql_document is None:
        return UNKNOWN
    try:
        return ec.operation_type.value
    except RuntimeError:
        return UNKNOWN


def validated(ec: ExecutionContext, type_: str) -> bool:
    """The operation (of type `type_`, `operation_type`'s answer) parsed and validated, so its name is a real one
    (not any string a client sent)."""
    return type_ != UNKNOWN and not isinstance(ec.result, _pre_execution_error())


def error_code(error: BaseException) -> str:
    """The `extensions.code` the client gets for this error (or for this exception, once Strawberry wraps it)."""
    from graphql import GraphQLError

    if not isinstance(error, GraphQLError):
        error = GraphQLError(str(error), original_error=error)
    code = (error.extensions or {}).get("code")
    if code:
        return str(code)
    from ragweave.schema.extensions import _code_for  # lazily: the schema package imports this one

    return _code_for(error) or "INTERNAL_SERVER_ERROR"


def error_codes(ec: ExecutionContext, failure: BaseException | None = None) -> list[str]:
    """The codes of the operation's errors; `failure` is what went through the hook instead of a result (a
    syntax error raised by the document cache, an AppError raised by another extension, a request Strawberry refuses
    with HTTP 400). Cancellation is no error."""
    result = ec.result
    if result is not None and result.errors:
        return [error_code(e) for e in result.errors]
    if failure is None:
        return []
    from strawberry.exceptions import MissingQueryError
    from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError

    if isinstance(failure, (MissingQueryError, CannotGetOperationTypeError, InvalidOperationTypeError)):
        return ["BAD_REQUEST"]
    return [error_code(failure)] if isinstance(failure, Exception) else []


class CallTally:
    """The backend calls one operation made: the difference of its CallLog between start and end (a WebSocket
    connection shares one context, and so one CallLog, between its operations)."""

    def __init__(self, ec: ExecutionContext) -> None:
        self.ec = ec
        self.log = self._find()
        # an HTTP request's log starts empty: nothing to copy, and the delta is the log itself
        started = self.log is not None and self.log.calls
        self.calls = Counter(self.log.calls) if started else None
        self.millis = Counter(self.log.millis) if started else None
        self.frozen: tuple[Mapping[str, int], Mapping[str, float]] | None = None

    def _find(self) -> CallLog | None:
        return getattr(self.ec.context, "call_log", None) or _current_call_log().get()

    def delta(self) -> tuple[Mapping[str, int], Mapping[str, float]]:
        """The calls and milliseconds since the start (the log's own counters when it started empty: read them,
        do not change them)."""
        if self.frozen is not None:
            return self.frozen
        log = self.log or self._find()
        if log is None:
            return Counter(), Counter()
        if self.calls is None or self.millis is None:
            return log.calls, log.millis
        return Counter(log.calls) - self.calls, Counter(log.millis) - self.millis

    def freeze(self) -> None:
        """Keep the delta as it is now, for reading after the operation ended, when others may have followed."""
        self.frozen = self.delta()


def split_call(name: str) -> tuple[str, str]:
    """"graph.neighbors" -> ("graph", "neighbors")."""
    backend, _, method = name.partition(".")
    return backend, method


def operation_extensions(
    metrics: Metrics | None = None, *, log_debug: bool = False
) -> list[Callable[[], SchemaExtension]]:
    """The extensions to put first in `build_schema`'s list: metrics (if given), the operation log, and tracing
    when it is configured (OTEL_EXPORTER_OTLP_ENDPOINT). Partials, so `is_observability` can recognise them."""
    from ragweave.observability.logging import OperationLogExtension
    from ragweave.observability.metrics import MetricsExtension
    from ragweave.observability.tracing import TracingExtension, tracing_enabled

    extensions: list[Callable[[], SchemaExtension]] = []
    if metrics is not None:
        extensions.append(functools.partial(MetricsExtension, metrics))
    extensions.append(functools.partial(OperationLogExtension, debug=log_debug))
    if tracing_enabled():
        extensions.append(functools.partial(TracingExtension))
    return extensions


def is_observability(extension: object) -> bool:
    from ragweave.observability.logging import OperationLogExtension
    from ragweave.observability.metrics import MetricsExtension
    from ragweave.observability.tracing import TracingExtension

    return getattr(extension, "func", extension) in (MetricsExtension, OperationLogExtension, TracingExtension)


def record_llm_usage(provider: str, model: str, prompt_tokens: int | None, completion_tokens: int | None) -> None:
    """Count an LLM answer's tokens (metrics) and put model and usage on the current span (tracing). Outside the
    server (no metrics module loaded) the count has nowhere to go and nothing is imported for it."""
    from ragweave.observability.tracing import annotate_llm

    metrics = sys.modules.get("ragweave.observability.metrics")
    if metrics is not None:
        metrics.observe_tokens(provider, model, prompt_tokens or 0, completion_tokens or 0)
    annotate_llm(provider, model, prompt_tokens, completion_tokens)

