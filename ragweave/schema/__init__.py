"""The GraphQL schema: `build_schema(debug_extensions=...)`."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import strawberry
from strawberry.extensions import MaxAliasesLimiter, QueryDepthLimiter

from ragweave.schema.documents import DocumentCache, Documents
from ragweave.schema.executor import Executor
from ragweave.schema.extensions import (
    Authentication,
    CostLimits,
    DebugExtensions,
    ErrorCodes,
    ReportingDebugExtensions,
)
from ragweave.schema.hooks import HooksSchema
from ragweave.schema.mutation import Mutation
from ragweave.schema.query import Query
from ragweave.schema.subscription import Subscription
from ragweave.settings import Settings


def build_schema(settings: Settings, observability: Sequence[Callable[[], object]] = ()) -> strawberry.Schema:
    """`observability` (ragweave.observability.operation_extensions) goes first: it wraps the other extensions.

    The depth and alias rules are built once: each QueryDepthLimiter/MaxAliasesLimiter construction makes a new
    rule class, and the document cache keys on the rules, so building them per request validated every request."""
    limit_rules = [
        *QueryDepthLimiter(max_depth=settings.max_query_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=settings.max_aliases).validation_rules,
    ]
    documents = Documents(max_tokens=settings.max_tokens, extra_rules=limit_rules)
    return HooksSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        execution_context_class=Executor,
        extensions=[
            *observability,
            ErrorCodes,
            Authentication,
            CostLimits,
            ReportingDebugExtensions if settings.debug_extensions else DebugExtensions,
            lambda: DocumentCache(documents),
        ],
    )
