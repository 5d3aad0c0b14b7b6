"""The executor: graphql-core's, with a short path for plain scalar fields.

Most fields of a large answer (ids, names, texts, scores) are attributes of an object that a resolver already
returned. graphql-core resolves each of them like any field: resolve info, argument coercion, the resolver
(Strawberry's attribute getter), completion. Here a field without arguments whose Strawberry resolver is the
default one and whose type is a built-in scalar or an enum is read with `getattr` and serialized directly. It
falls back to the full path whenever the full path would do more than that: a null for a non-null field (the
error and its propagation), a value the scalar cannot serialize, or field middleware (a `resolve` hook).
"""

from __future__ import annotations

from typing import Any
from weakref import WeakKeyDictionary

from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    specified_scalar_types,
)
from graphql.pyutils import Undefined
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

# (attribute, serialize, non-null) or None when the field needs the full path
_Plan = tuple[str, Any, bool] | None
_MISSING = object()
_plans_by_schema: WeakKeyDictionary[GraphQLSchema, dict[tuple[str, str], _Plan]] = WeakKeyDictionary()


def _plan(field_def: GraphQLField) -> _Plan:
    if field_def.args or not getattr(field_def.resolve, "_is_default", False):
        return None
    definition = field_def.extensions.get("strawberry-definition")
    if definition is None:
        return None
    field_type, non_null = field_def.type, isinstance(field_def.type, GraphQLNonNull)
    if non_null:
        field_type = field_type.of_type
    built_in = isinstance(field_type, GraphQLScalarType) and field_type.name in specified_scalar_types
    if not (built_in or isinstance(field_type, GraphQLEnumType)):
        return None
    return definition.python_name, field_type.serialize, non_null


class Executor(StrawberryGraphQLCoreExecutionContext):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        plans = _plans_by_schema.get(self.schema)
        if plans is None:
            plans = _plans_by_schema[self.schema] = {}
        self._plans = plans
        middleware = self.middleware_manager  # Strawberry always passes one; it matters only when it has hooks
        self._short_path = middleware is None or not middleware.middlewares

    def build_response(self, data: dict[str, Any] | None) -> Any:
        response = super().build_response(data)
        # graphql-core's helpers object holds bound methods of this executor: drop the cycle once the answer is
        # built, so the executor, the request's context and its answer are freed at once, not by a full GC
        self.async_helpers = None  # type: ignore[assignment]
        return response

    def execute_field(
        self, parent_type: GraphQLObjectType, source: Any, field_details_list: Any, path: Any,
        position_context: Any,
    ) -> Any:
        if self._short_path:
            key = (parent_type.name, field_details_list[0].node.name.value)
            plan = self._plans.get(key, _MISSING)
            if plan is _MISSING:
                field_def = parent_type.fields.get(key[1])
                plan = self._plans[key] = _plan(field_def) if field_def is not None else None
            if plan is not None:
                value = getattr(source, plan[0], _MISSING)
                if value is None and not plan[2]:
                    return None
                if value is not None and value is not _MISSING:
                    try:
                        serialized = plan[1](value)
                    except Exception:  # the full path reports it
                        serialized = None
                    if serialized is not None and serialized is not Undefined:
                        return serialized
        return super().execute_field(parent_type, source, field_details_list, path, position_context)
