"""graphql-core's executor with a short path for plain leaf fields.

A plain leaf field has Strawberry's default resolver (an attribute read that ignores `info`), no arguments and a
scalar or enum type. graphql-core builds a resolve info, checks arguments and runs its value completion for each
of them; most of a search response is such fields. Here a field whose value is a string or a number is read and
coerced directly, with the same coercion; anything else (null for a non-null field, other values, errors, any
middleware) goes through graphql-core's own `execute_field`, which reads the attribute again.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from graphql import GraphQLLeafType, GraphQLObjectType, Undefined, get_nullable_type, is_leaf_type, is_non_null_type
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext


@lru_cache(maxsize=4096)
def _plain_leaf(parent_type: GraphQLObjectType, name: str) -> tuple[Any, GraphQLLeafType, bool] | None:
    """(resolver, leaf type, non-null) for a plain leaf field of `parent_type`, else None."""
    field = parent_type.fields.get(name)
    if field is None or field.args or not getattr(field.resolve, "_is_default", False):
        return None
    nullable = get_nullable_type(field.type)
    if not is_leaf_type(nullable):
        return None
    return field.resolve, nullable, is_non_null_type(field.type)


class Executor(StrawberryGraphQLCoreExecutionContext):
    def execute_field(self, parent_type: GraphQLObjectType, source: Any, field_details_list: Any, path: Any,
                      position_context: Any) -> Any:
        middleware = self.middleware_manager
        leaf = None if middleware and middleware.middlewares else _plain_leaf(
            parent_type, field_details_list[0].node.name.value)
        if leaf is not None:
            resolve, leaf_type, non_null = leaf
            try:
                value = resolve(source, None)
            except Exception:
                value = Undefined
            if value is None and not non_null:
                return None
            if isinstance(value, str | int | float):
                try:
                    coerced = leaf_type.coerce_output_value(value)
                except Exception:
                    coerced = None
                if coerced is not None and coerced is not Undefined:
                    return coerced
        return super().execute_field(parent_type, source, field_details_list, path, position_context)
