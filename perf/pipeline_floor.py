"""What a plain JSON POST costs without the view's steps: `python -m perf.instructions --skip pipeline`.

An experiment, not a way to serve. The view answers a plain POST by running the operation as the query lane runs
it (a direct run or ragweave's executor: `ragweave.schema.direct_root.start`), with the per-operation work of the
extensions composed by hand (operation cost and rate limit, request deadline, backend-call log, loaders released,
operation metrics, `extensions.cost`), and without Strawberry's view steps (sub-response, persisted queries, result
processing), `Schema.execute` or the query lane (ragweave/schema/query_lane.py, which serves such a query
normally). Errors, validation and the operation log are left out: it serves the measured operation and nothing
else. The difference to the normal run bounds what leaving out those steps could still save.

`--skip execution` (the Small operation only) also skips GraphQL execution: the answer is built by hand from the
search loader's hits. What is left is the floor of any GraphQL server with ragweave's per-request work: the
middleware, the view's entry, the context and the caller's key, cost, rate limit, deadline, metrics, the backend
calls and the encoding. `--drop` leaves out parts of that work as well, to measure what each costs: `context`
(the first request's context serves every later one, with fresh loaders: no key check), `cost` (a constant),
`limiter`, `deadline`, `metrics`.
"""

from __future__ import annotations

import time
from contextlib import nullcontext
from typing import Any

import orjson
from graphql import DocumentNode, execute, parse
from starlette.requests import Request
from starlette.responses import Response
from strawberry.execution.is_awaitable import optimized_is_awaitable
from strawberry.utils.await_maybe import await_maybe

from ragweave.app import GraphQLView
from ragweave.context import Context
from ragweave.datasources.calls import current_call_log
from ragweave.deadline import request_deadline
from ragweave.resolvers.cost import operation_cost
from ragweave.resolvers.search import search_key
from ragweave.schema import direct_root
from ragweave.schema.execution import Executor

PARTS = ("context", "cost", "limiter", "deadline", "metrics")
_documents: dict[str, DocumentNode] = {}
_dropped: frozenset[str] = frozenset()
_kept_context: Context | None = None  # with `--drop context`: the first request's, serving every later one


async def _executed(schema: Any, document: DocumentNode, context: Any, name: str | None,
                    variables: dict[str, Any] | None) -> Any:
    """As the query lane runs it: a direct run or the prepared operation's executor (`direct_root.start`), else
    graphql-core's `execute` with ragweave's executor."""
    run = direct_root.start(schema, document, name, context, variables, optimized_is_awaitable)
    if run is None:
        result = await execute(schema, document, variable_values=variables, context_value=context,  # type: ignore[misc]
                               operation_name=name, executor_class=Executor)
    else:
        result = await await_maybe(run.execute_operation())
    return result.data


async def _small_by_hand(schema: Any, document: DocumentNode, context: Any, name: str | None,
                         variables: dict[str, Any]) -> Any:
    """`search(query: $q, topK: $k) { score chunk { id text } }`, without GraphQL execution."""
    hits = await context.loaders.search.load(search_key(context, variables["q"], variables["k"], None, None))
    return {"search": [{"score": h.score, "chunk": {"id": h.chunk.id, "text": h.chunk.text}} for h in hits]}


_answer = _executed


async def _context(view: GraphQLView, request: Request) -> Context:
    global _kept_context
    if _kept_context is not None:
        _kept_context.loaders = _kept_context.fresh_loaders()
        return _kept_context
    context = await view.get_context(request, response=None)  # type: ignore[arg-type]
    if "context" in _dropped:
        _kept_context = context
    return context


async def _run_without_pipeline(view: GraphQLView, request: Request, data: dict[str, Any]) -> Response:
    context = await _context(view, request)
    query, name, variables = data["query"], data.get("operationName"), data.get("variables")
    document = _documents.get(query)
    if document is None:
        document = _documents[query] = parse(query)
    schema = view.schema._schema
    token = current_call_log.set(context.call_log)
    started = time.perf_counter()
    try:
        cost = 12 if "cost" in _dropped else operation_cost(schema, document, variables, name)
        if context.limiter is not None and "limiter" not in _dropped:
            await context.limiter.take(context.rate_key, cost)
        deadline = nullcontext() if "deadline" in _dropped else request_deadline(context.settings.request_deadline_s)
        with deadline:
            answer = await _answer(schema, document, context, name, variables)
    finally:
        context.loaders.close()
        current_call_log.reset(token)
    if "metrics" not in _dropped:
        request.app.state.metrics.observe_operation(name, "query", time.perf_counter() - started, [],
                                                    context.call_log.calls, context.call_log.millis, admit=True)
    body = {"data": answer, "extensions": {"cost": {"estimated": cost}}}
    return Response(orjson.dumps(body), media_type="application/json")


def install(skip: str, drop: frozenset[str] = frozenset()) -> None:
    """From now on, every plain POST of this process's apps skips the pipeline (and with "execution", executing
    the operation too), and the `drop`ped parts of the per-request work."""
    global _answer, _dropped
    _answer = _small_by_hand if skip == "execution" else _executed
    _dropped = frozenset(drop)
    GraphQLView._run_plain_post = _run_without_pipeline  # type: ignore[assignment,method-assign]
