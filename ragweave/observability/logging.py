"""Structured logs: a JSON formatter for stdlib logging, and one line per GraphQL operation.

The operation line (logger "ragweave.operation") carries the request id, operation name and type, duration,
backend calls, error codes (and the request ids of internal errors) and the tenant. It never carries the
query text, variables, keys or prompts, unless RAGWEAVE_LOG_DEBUG=1 (then query and variables are added).
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

from strawberry.extensions import SchemaExtension
from strawberry.types.execution import ExecutionContext

from ragweave.observability import ANONYMOUS, CallTally, error_codes, operation_name, operation_type

log = logging.getLogger("ragweave.operation")
_RECORD_FIELDS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName", "color_message"}
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ts, level, logger, message, then the record's `extra` fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update((k, v) for k, v in vars(record).items() if k not in _RECORD_FIELDS and not k.startswith("_"))
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


def configure_logging(json: bool, level: int | str = logging.INFO) -> None:
    """The root handler for the CLI: JSON lines, or the plain format. Replaces any handler set before."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter() if json else logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")
    )
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)


def request_id(context: object) -> str:
    """The caller's X-Request-ID when it is a sane token, else a fresh one."""
    request = getattr(context, "request", None)
    given = request.headers.get("x-request-id", "") if request is not None else ""
    return given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex


class OperationLogExtension(SchemaExtension):
    def __init__(self, *, debug: bool = False, execution_context: ExecutionContext | None = None) -> None:
        self.debug = debug
        if execution_context is not None:
            self.execution_context = execution_context

    def on_operation(self) -> Iterator[None]:
        if not log.isEnabledFor(logging.INFO):  # nothing to log: no bookkeeping either
            yield
            return
        ec = self.execution_context
        tally = CallTally(ec)
        started = time.perf_counter()
        failure: BaseException | None = None
        try:
            yield
        except BaseException as exc:
            failure = exc
            raise
        finally:
            log_operation(ec, tally, (time.perf_counter() - started) * 1000, failure, debug=self.debug)


def log_operation(ec: ExecutionContext, tally: CallTally, elapsed_ms: float, failure: BaseException | None, *,
                  debug: bool) -> None:
    """The operation's log line (with the query text and variables when `debug`)."""
    calls, _ = tally.delta()
    codes = error_codes(ec, failure)
    name, type_ = operation_name(ec) or ANONYMOUS, operation_type(ec)
    fields: dict[str, object] = {
        "request_id": request_id(ec.context),
        "operation_name": name,
        "operation_type": type_,
        "duration_ms": round(elapsed_ms, 3),
        "backend_calls": sum(calls.values()),
        "error_codes": codes,
        "tenant": None if getattr(ec.context, "auth_error", None) else getattr(ec.context, "tenant", None),
    }
    errors = (ec.result.errors if ec.result is not None else None) or []
    if internal := [e.extensions["requestId"] for e in errors if "requestId" in (e.extensions or {})]:
        fields["internal_error_ids"] = internal
    if debug:
        fields["query"] = ec.query
        fields["variables"] = ec.variables
    level = logging.WARNING if "INTERNAL_SERVER_ERROR" in codes else logging.INFO
    log.log(level, "graphql %s %s %.1fms calls=%d errors=%s", type_, name, elapsed_ms, fields["backend_calls"],
            ",".join(codes) or "-", extra=fields)
