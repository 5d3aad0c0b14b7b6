"""The GraphQL schema: `build_schema(debug_extensions=...)`."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import strawberry
from strawberry.extensions import MaxAliasesLimiter, MaxTokensLimiter, ParserCache, QueryDepthLimiter, ValidationCache

from ragweave.schema.extensions import (
    Authentication,
    CostLimits,
    DebugExtensions,
    ErrorCodes,
    ReportingDebugExtensions,
)
from ragweave.schema.mutation import Mutation
from ragweave.schema.query import Query
from ragweave.schema.subscription import Subscription
from ragweave.settings import Settings


def build_schema(settings: Settings, observability: Sequence[Callable[[], object]] = ()) -> strawberry.Schema:
    """`observability` (ragweave.observability.operation_extensions) goes first: it wraps the other extensions."""
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=[
            *observability,
            ErrorCodes,
            Authentication,
            CostLimits,
            ReportingDebugExtensions if settings.debug_extensions else DebugExtensions,
            lambda: QueryDepthLimiter(max_depth=settings.max_query_depth),
            lambda: MaxAliasesLimiter(max_alias_count=settings.max_aliases),
            lambda: MaxTokensLimiter(max_token_count=settings.max_tokens),
            lambda: ParserCache(maxsize=256),
            lambda: ValidationCache(maxsize=256),
        ],
    )
