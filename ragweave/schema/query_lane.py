"""A query run without Strawberry's generic operation pipeline.

For every operation Strawberry builds an execution context, one instance of every schema extension, a hooks runner
and a middleware manager, and runs the parse, validate and execute stages with each extension's hooks around them.
ragweave's extensions are fixed (`ragweave.schema.build_schema`), and for one kind of request their work is known
in advance: a query without operation extensions (persisted queries) or root value, from a caller whose credentials
were accepted, whose document is in the document cache and valid. The lane first checks, before doing anything
observable, what would make the pipeline refuse the request: the document (the document cache's answers), the
caller's credentials, the variables (the executor is built, as graphql-core's `execute` builds it, which coerces
them) and the cost budget (from the executor's coerced variables). Then it does the extensions' work directly, in
the order their hooks do it, with the same functions:

1. entering the operation: the metrics context and the operation's clock (`MetricsExtension`, the operation log),
   the backend-call log (`DebugExtensions`);
2. around execution: the rate limit (`CostLimits`), the request deadline (`RequestDeadline`); the executor runs
   the operation (or, for a query of one plain root field, a direct run: `ragweave.schema.direct_root`);
   Strawberry's error logging (`Schema.process_errors`);
3. leaving the operation, in reverse: the call log released, the errors coded (`ErrorCodes`), the log line, the
   metrics, the loaders emptied (`ReleaseLoaders`): the last three once the response is written (the next loop
   iteration), off the request's critical path;
4. the result with its extensions (`extensions.cost`, the debug extensions), as Strawberry's
   `_handle_execution_result` builds it; an exception from the execute stage (RATE_LIMITED) becomes the
   single-error result Strawberry makes of it.

Anything else (a mutation, a document that does not parse or validate or names no operation, refused credentials,
invalid variables, a persisted query, an operation over its cost budget, tracing switched on, extensions other than
these) goes through Strawberry's pipeline, which answers it as before. The lane is built only when the schema's
extensions are exactly the ones it knows (`QueryLane.for_schema`). `Schema.execute` takes it, so the transports'
own steps (the HTTP view's, persisted queries and trusted documents among them) run before it as before.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from graphql import DocumentNode, GraphQLError, OperationType, get_operation_ast, specified_rules
from strawberry.execution.is_awaitable import optimized_is_awaitable
from strawberry.schema.schema import DEFAULT_ALLOWED_OPERATION_TYPES
from strawberry.types import ExecutionResult
from strawberry.types.execution import PreExecutionError
from strawberry.utils.await_maybe import await_maybe

from ragweave.datasources.calls import CallLog, current_call_log
from ragweave.deadline import request_deadline
from ragweave.observability import CallTally
from ragweave.observability.logging import OperationLogExtension, log_operation
from ragweave.observability.logging import log as operation_log
from ragweave.observability.metrics import Metrics, MetricsExtension, current_metrics, observe
from ragweave.resolvers.cost import coerced_operation_cost
from ragweave.schema import direct_root
from ragweave.schema.documents import DocumentCache, Documents
from ragweave.schema.execution import Executor
from ragweave.schema.extensions import (
    Authentication,
    CostLimits,
    DebugExtensions,
    ErrorCodes,
    ReleaseLoaders,
    ReportingDebugExtensions,
    RequestDeadline,
    coded,
    cost_results,
    debug_results,
    take_rate,
)

_RULES = tuple(specified_rules)  # Strawberry's default validation rules, which the document cache is asked with


@dataclass(frozen=True, slots=True)
class QueryLane:
    schema: Any  # ragweave's Strawberry schema
    extensions: Any  # the schema's list of extensions the lane was built for
    documents: Documents
    metrics: Metrics | None
    log_debug: bool | None  # None: no operation log extension
    report: bool  # the debug extensions are reported

    @classmethod
    def for_schema(cls, schema: Any) -> QueryLane | None:
        """The lane, when the schema's extensions are exactly ragweave's, in `build_schema`'s order, without
        tracing; else None."""
        extensions = schema.get_extensions()
        kinds = [type(e) for e in extensions]
        metrics = next((e for e in extensions if type(e) is MetricsExtension), None)
        logger = next((e for e in extensions if type(e) is OperationLogExtension), None)
        debug = next((kind for kind in kinds if kind in (DebugExtensions, ReportingDebugExtensions)), None)
        expected = [ReleaseLoaders, *([MetricsExtension] if metrics else []),
                    *([OperationLogExtension] if logger else []), ErrorCodes, Authentication, CostLimits,
                    RequestDeadline, debug, DocumentCache]
        if kinds != expected:
            return None
        return cls(schema, schema.extensions, extensions[-1].documents, metrics.metrics if metrics else None,
                   logger.debug if logger else None, debug is ReportingDebugExtensions)

    def current(self) -> QueryLane | None:
        """This lane, or the one for the schema's extensions if they were replaced since (None if it has none)."""
        return self if self.schema.extensions is self.extensions else QueryLane.for_schema(self.schema)

    def document(self, query: Any, operation_name: Any) -> DocumentNode | None:
        """The query's document when the lane can run it: it parses and validates (the document cache's answers)
        and the operation it names is a query."""
        if not isinstance(query, str) or not (operation_name is None or isinstance(operation_name, str)):
            return None
        documents = self.documents
        try:
            document = documents.parse(query)
        except Exception:  # Strawberry's pipeline reports it
            return None
        operation = get_operation_ast(document, operation_name)
        if operation is None or operation.operation is not OperationType.QUERY:
            return None
        return None if documents.validate(self.schema._schema, query, document, _RULES) else document

    async def execute(self, document: DocumentNode, query: str, context: Any, variables: dict[str, Any] | None,
                      operation_name: str | None, allowed_operation_types: Any = None) -> ExecutionResult | None:
        """The operation's result as Strawberry's `Schema.execute` gives it; None, with nothing done, for a caller
        whose credentials were refused or an operation over the cost budget: Strawberry's pipeline refuses them."""
        schema = self.schema
        if context.auth_error is not None:
            return None
        executor = direct_root.start(schema._schema, document, operation_name, context, variables,
                                     optimized_is_awaitable)
        if executor is None:
            executor = Executor.build(schema._schema, document, None, context, variables, operation_name,
                                      is_awaitable=optimized_is_awaitable, operation_extensions=None)
        if isinstance(executor, list):  # the variables' errors
            return None
        cost = coerced_operation_cost(schema._schema, document, executor.variable_values, operation_name)
        if cost > context.settings.max_cost:
            return None
        ec = schema._create_execution_context(
            query=query, allowed_operation_types=allowed_operation_types or DEFAULT_ALLOWED_OPERATION_TYPES,
            variable_values=variables, context_value=context,
            operation_name=operation_name)
        ec.graphql_document = document
        # entering the operation: MetricsExtension, OperationLogExtension, DebugExtensions
        metrics = self.metrics
        metrics_token = current_metrics.set(metrics) if metrics is not None else None
        logging_on = self.log_debug is not None and operation_log.isEnabledFor(logging.INFO)
        tally = CallTally(ec) if metrics is not None or logging_on else None
        started = time.perf_counter()
        call_log = context.call_log or CallLog()
        call_log_token = current_call_log.set(call_log)
        failure: BaseException | None = None
        try:
            try:
                await take_rate(context, cost)  # CostLimits
                with request_deadline(context.settings.request_deadline_s, context.loaders.loop):  # RequestDeadline
                    result = await await_maybe(executor.execute_operation())
                ec.result = result
                if result.errors:
                    ec.pre_execution_errors = result.errors
                    schema._process_errors(result.errors, ec)
            finally:
                current_call_log.reset(call_log_token)
            if result.errors:  # ErrorCodes
                result.errors = [coded(e) for e in result.errors]
        except Exception as exc:
            failure = exc
        except BaseException as exc:
            failure = exc
            raise
        finally:
            self._leave(ec, tally, started, failure, metrics_token, logging_on)
        if failure is not None:  # Strawberry's answer to an exception from a hook or from execution
            error = failure if isinstance(failure, GraphQLError) else GraphQLError(str(failure), original_error=failure)
            return self._result(ec, PreExecutionError(data=None, errors=[error]), cost, call_log, started,
                                process_errors=True)
        return self._result(ec, ExecutionResult(data=result.data, errors=result.errors), cost, call_log, started,
                            process_errors=False)

    def _leave(self, ec: Any, tally: CallTally | None, started: float, failure: BaseException | None,
               metrics_token: Any, logging_on: bool) -> None:
        """Leaving the operation, in reverse: the metrics context restored now; the operation log, the metrics and
        the loaders emptied (ReleaseLoaders) in a callback of the next loop iteration, once the view has written
        the response (it writes it without suspending), so that they add nothing to the request's latency (an
        operation that raised records them at once)."""
        elapsed = time.perf_counter() - started
        if metrics_token is not None:
            current_metrics.reset(metrics_token)
        if tally is not None:
            tally.freeze()  # a WebSocket's next operation may add to the same call log before the callback runs
        if failure is None:
            ec.context.loaders.loop.call_soon(self._record, ec, tally, elapsed, None, logging_on)
        else:  # now: the single-error result that follows replaces `ec.result`, which they read
            self._record(ec, tally, elapsed, failure, logging_on)

    def _record(self, ec: Any, tally: CallTally | None, elapsed: float, failure: BaseException | None,
                logging_on: bool) -> None:
        if logging_on and tally is not None:
            log_operation(ec, tally, elapsed * 1000, failure, debug=bool(self.log_debug))
        if self.metrics is not None and tally is not None:
            observe(self.metrics, ec, tally, elapsed, failure, "query")
        ec.context.loaders.close()

    def _result(self, ec: Any, result: ExecutionResult, cost: int, call_log: CallLog, started: float, *,
                process_errors: bool) -> ExecutionResult:
        """Strawberry's `_handle_execution_result`, with the extensions' results."""
        if result.errors:
            ec.pre_execution_errors = result.errors
            if process_errors:
                self.schema._process_errors(result.errors, ec)
        result.extensions = {**cost_results(cost), **(debug_results(call_log, started) if self.report else {})}
        ec.result = result
        return result
