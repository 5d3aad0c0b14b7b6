"""The GraphQL schema: `build_schema(debug_extensions=...)`."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaxAliasesLimiter, QueryDepthLimiter
from strawberry.types import ExecutionContext, ExecutionResult
from strawberry.types.graphql import OperationType

from ragweave.context import Context
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
    expected,
)
from ragweave.schema.hooks import HooksSchema
from ragweave.schema.mutation import Mutation
from ragweave.schema.query import Query
from ragweave.schema.query_lane import QueryLane
from ragweave.schema.root_fields import root_field_limit
from ragweave.schema.subscription import Subscription
from ragweave.settings import Settings


class Schema(HooksSchema):
    query_lane: QueryLane | None = None  # set by `build_schema`

    async def execute(
        self, query: str | None, variable_values: dict[str, Any] | None = None, context_value: Any | None = None,
        root_value: Any | None = None, operation_name: str | None = None,
        allowed_operation_types: Iterable[OperationType] | None = None,
        operation_extensions: dict[str, Any] | None = None,
    ) -> ExecutionResult:
        """Strawberry's, or the query lane's (`ragweave.schema.query_lane`) for the queries it runs."""
        lane = self.query_lane
        if lane is not None and lane.extensions is not self.extensions:  # replaced since the lane was built
            lane = self.query_lane = lane.current()
        if (lane is not None and root_value is None and not operation_extensions and type(context_value) is Context
                and (allowed_operation_types is None or OperationType.QUERY in allowed_operation_types)):
            document = lane.document(query, operation_name)
            if document is not None:
                result = await lane.execute(document, query, context_value, variable_values, operation_name,
                                            allowed_operation_types)
                if result is not None:
                    return result
        return await super().execute(query, variable_values, context_value, root_value, operation_name,
                                     allowed_operation_types, operation_extensions)

    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        """Strawberry logs every error at ERROR with its traceback and the query text around it: 3 KB of log per
        refused request, user text included. Errors with a code of their own are named in the operation log line
        already, so only the unexpected ones go on to Strawberry's logger."""
        super().process_errors([e for e in errors if not expected(e)], execution_context)


def build_schema(settings: Settings, observability: Sequence[Callable[[], object]] = ()) -> strawberry.Schema:
    """`observability` (ragweave.observability.operation_extensions) goes first: it wraps the other extensions.

    The depth and alias rules are built once: each QueryDepthLimiter/MaxAliasesLimiter construction makes a new
    rule class, and the document cache keys on the rules, so building them per request validated every request."""
    limit_rules = [
        *QueryDepthLimiter(max_depth=settings.max_query_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=settings.max_aliases).validation_rules,
        root_field_limit(settings.max_root_fields),
    ]
    documents = Documents(max_tokens=settings.max_tokens, extra_rules=limit_rules)
    schema = Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        execution_context_class=Executor,
        extensions=[
            ReleaseLoaders,
            *observability,
            ErrorCodes,
            Authentication,
            CostLimits,
            RequestDeadline,
            ReportingDebugExtensions if settings.debug_extensions else DebugExtensions,
            lambda: DocumentCache(documents),
        ],
    )
    schema.query_lane = QueryLane.for_schema(schema) if settings.query_lane else None
    return schema
