"""A query of one root field whose answer is plain, run without building graphql-core's executor.

Most frontend queries have the Small operation's shape, `search(query: $q, topK: $k) { score chunk { id text } }`:
one root field, its resolver, and plain attributes below it. For such a query graphql-core's executor does little
besides building itself (the execution context, its incremental publisher, its helpers) and awaiting the resolver
through half a dozen coroutines: about a tenth of the instructions ragweave spends on the whole request.

For a prepared operation (`ragweave.schema.prepared`) an executor of its first request works out whether it has that
shape (`Executor.sole_plain_root`: a static query of one root field, resolved by a Strawberry resolver with planned
arguments, its value completed by a generated completer); the answer is kept with the prepared operation. Every
request of such an operation, the first included, is a `DirectRun`: the arguments from their plan, the resolver
called with the resolve info graphql-core's executor would give it (the first request's, with this request's
variables and context), its value awaited and completed by the completer.

The resolver knows it runs in a direct run (`plain_answer`), so its value will only be read for plain fields: it
may answer with the datasource's records where a Strawberry type names one as its `plain_record` (a class whose
instances carry every non-private field of the type under the same name), and skip building the Strawberry objects.
The completers take those records as they take the type's own objects; so does graphql-core's path, which reads
the same attributes (the types have no `is_type_of`).

A selection may also hold resolver fields without arguments that a type's `carrier` carries (`Chunk.carrier`,
`ChunkAnswer`: a hit's `document` and `entities`). Its completer reads them as attributes of the carrier, and the
run tells the resolver so (`carried_answer` instead of `plain_answer`): `retrieve` and `search` then answer their
chunks as carriers, their entities awaited, and the whole answer completes in generated code. A resolver that answers
anything else (no carriers, or a carrier without a value it should carry) makes the completer step aside; Chunk's
resolvers take a carrier as they take a Chunk.

Where graphql-core would do more than that, the run builds the executor at that point and leaves the rest to it:
variables the arguments' plan refuses (the whole operation, the resolver not yet called), a resolver that raises,
or a value the completer does not complete (null for a non-null field, a value of another type), which the
executor completes and reports as `execute_operation` does (`Executor.answer_root`). The resolver runs once.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from graphql import DocumentNode, ExecutionResult, GraphQLSchema
from strawberry.utils.await_maybe import await_maybe

from ragweave.schema.execution import NOT_PLAIN, UNPLANNED, Executor, SoleRoot, plans_of, resolver_call
from ragweave.schema.prepared import PreparedOperation

plain_answer: ContextVar[bool] = ContextVar("ragweave_plain_answer", default=False)
"""True while a direct run's resolver runs: its value is read for plain fields only."""

carried_answer: ContextVar[bool] = ContextVar("ragweave_carried_answer", default=False)
"""True while a direct run's resolver runs whose value is read for plain fields and for resolver fields that a type's
carrier carries (`Chunk.carrier`): the resolver may answer carriers with those fields' values in place of the
objects (and must answer Strawberry objects, not records, elsewhere)."""


class DirectRun:
    """One request of an operation with a direct root, run in place of an executor (`execute_operation`)."""

    __slots__ = ("context", "is_awaitable", "prepared", "root", "schema", "variable_values")

    def __init__(self, root: SoleRoot, prepared: PreparedOperation, schema: GraphQLSchema, context: Any,
                 variable_values: Any, is_awaitable: Any) -> None:
        self.root = root
        self.prepared = prepared
        self.schema = schema
        self.context = context
        self.variable_values = variable_values
        self.is_awaitable = is_awaitable

    async def execute_operation(self) -> ExecutionResult:
        root = self.root
        arguments = {} if root.plan is None else root.plan.values(self.variable_values)
        if arguments is None:  # graphql-core's argument coercion reports it
            return await await_maybe(self._executor().execute_operation())
        info = root.info_for(self.variable_values.coerced, self.context, self.is_awaitable)
        answer = carried_answer if root.carried else plain_answer
        token = answer.set(True)
        try:
            value = resolver_call(root.step, root.plans, arguments, None, info)
            if self.is_awaitable(value):
                value = await value
        except Exception as error:
            value, raised = error, True
        else:
            raised = False
        finally:
            answer.reset(token)
        if raised:
            return await await_maybe(self._executor().answer_root(root, value, raised=True))
        completed = root.complete(value)
        if completed is NOT_PLAIN:
            return await await_maybe(self._executor().answer_root(root, value, raised=False))
        return ExecutionResult({root.name: completed}, None)

    def _executor(self) -> Executor:
        return Executor.from_prepared(self.schema, self.prepared, self.context, self.variable_values,
                                      self.is_awaitable)


def start(schema: GraphQLSchema, document: DocumentNode, operation_name: str | None, context: Any, variables: Any,
          is_awaitable: Any) -> Executor | DirectRun | None:
    """What runs the operation: a direct run where it has a direct root, else the executor of the prepared
    operation; None where the operation cannot be prepared or its variables need graphql-core's `build`."""
    plans = plans_of(schema)
    prepared = plans.prepared(schema, document, operation_name)
    variable_values = None if prepared is None else prepared.variable_values(variables)
    if prepared is None or variable_values is None:
        return None
    root = plans.direct_root(prepared)
    if root is None:
        return Executor.from_prepared(schema, prepared, context, variable_values, is_awaitable)
    if root is UNPLANNED:  # worked out by an executor of the operation, once; it runs the request if no direct run can
        executor = Executor.from_prepared(schema, prepared, context, variable_values, is_awaitable)
        root = executor.sole_plain_root()
        plans.keep_direct_root(prepared, root)
        if root is None:
            return executor
    return DirectRun(root, prepared, schema, context, variable_values, is_awaitable)
