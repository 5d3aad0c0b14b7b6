"""graphql-core's executor with a short path for plain fields.

A plain field has Strawberry's default resolver (an attribute read that ignores `info`) and no arguments. For
each field graphql-core builds a resolve info, checks arguments and dispatches on the type to complete the value;
most of a search response is plain fields. Here a plain leaf whose value is a string or a number is coerced
directly, with the same coercion, and a plain object (of a type without `is_type_of`, so no info is needed) goes
straight to graphql-core's execution of its subfields, with graphql-core's error handling. Anything else (null
for a non-null field, other values, errors, any middleware) goes through graphql-core's own `execute_field`,
which reads the attribute again.
"""

from __future__ import annotations

from collections.abc import Awaitable
from functools import lru_cache
from typing import Any

from graphql import (
    GraphQLObjectType,
    GraphQLOutputType,
    Undefined,
    get_nullable_type,
    is_leaf_type,
    is_non_null_type,
    is_object_type,
)
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext


@lru_cache(maxsize=4096)
def _plain(parent_type: GraphQLObjectType, name: str) -> tuple[Any, Any, GraphQLOutputType] | None:
    """(resolver, leaf or object type, declared type) for a plain field of `parent_type`, else None."""
    field = parent_type.fields.get(name)
    if field is None or field.args or not getattr(field.resolve, "_is_default", False):
        return None
    nullable = get_nullable_type(field.type)
    if is_leaf_type(nullable) or (is_object_type(nullable) and nullable.is_type_of is None):
        return field.resolve, nullable, field.type
    return None


class Executor(StrawberryGraphQLCoreExecutionContext):
    def execute_field(self, parent_type: GraphQLObjectType, source: Any, field_details_list: Any, path: Any,
                      position_context: Any) -> Any:
        middleware = self.middleware_manager
        plain = None if middleware and middleware.middlewares else _plain(
            parent_type, field_details_list[0].node.name.value)
        if plain is not None:
            resolve, named, declared = plain
            try:
                value = resolve(source, None)
            except Exception:
                value = Undefined
            if value is None and not is_non_null_type(declared):
                return None
            if isinstance(named, GraphQLObjectType):
                if value is not None and value is not Undefined and not isinstance(value, Exception) \
                        and not self.is_awaitable(value):
                    return self._object(named, declared, field_details_list, path, value, position_context)
            elif isinstance(value, str | int | float):
                try:
                    coerced = named.coerce_output_value(value)
                except Exception:
                    coerced = None
                if coerced is not None and coerced is not Undefined:
                    return coerced
        return super().execute_field(parent_type, source, field_details_list, path, position_context)

    def _object(self, object_type: GraphQLObjectType, declared: GraphQLOutputType, field_details_list: Any,
                path: Any, value: Any, position_context: Any) -> Any:
        """graphql-core's completion of an object value and its error handling, from `execute_field`."""
        try:
            completed = self.collect_and_execute_subfields(object_type, field_details_list, path, value,
                                                           position_context)
        except Exception as raw_error:
            self.handle_field_error(raw_error, declared, field_details_list, path)
            return None
        if self.is_awaitable(completed):
            return self._await_object(completed, declared, field_details_list, path)
        return completed

    async def _await_object(self, completed: Awaitable[Any], declared: GraphQLOutputType, field_details_list: Any,
                            path: Any) -> Any:
        try:
            return await completed
        except Exception as raw_error:
            self.handle_field_error(raw_error, declared, field_details_list, path)
            return None
