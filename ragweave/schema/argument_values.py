"""A field node's argument values, planned once, for the executor's short path to Strawberry resolvers.

graphql-core's `get_argument_values` goes through the field's argument definitions on every request, coercing
each argument node again. For a field node whose arguments are each a variable, a literal without variables, or
left out (the definition's default applies), an `ArgumentPlan` keeps what depends on the document alone (the
literals and the defaults, coerced once, if they are immutable scalars, since one value serves every request) and
per request takes each variable's coerced value, as graphql-core's `coerce_argument` does: a variable that was not
given leaves the argument to its default, a given one is used as coerced. Where graphql-core would refuse the
values (a required argument whose variable is missing, a null for a non-null argument) `values` returns None, and
the executor calls `get_argument_values`, which reports it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from graphql import FieldNode, GraphQLError, GraphQLField, VariableNode, is_non_null_type, is_required_argument
from graphql.execution.values import VariableValues, maybe_use_default_value
from graphql.pyutils import Undefined
from graphql.utilities import coerce_input_literal

from ragweave.resolvers.cost import literal_arguments

_IMMUTABLE = frozenset((int, float, str, bool, type(None)))


@dataclass(frozen=True, slots=True)
class _Argument:
    out_name: str
    variable: str | None  # None: `value` always (a literal, or the default of an argument left out)
    value: Any  # for a variable: the argument's default when the variable is not given, or Undefined (none)
    required: bool  # for a variable: a non-null argument without default
    non_null: bool


@dataclass(frozen=True, slots=True)
class ArgumentPlan:
    arguments: tuple[_Argument, ...]  # in the definition's order, as graphql-core fills its dict
    constant: Mapping[str, Any] | None  # the values, when no variable is among them

    def values(self, variable_values: VariableValues) -> Mapping[str, Any] | None:
        if self.constant is not None:
            return self.constant
        coerced = variable_values.coerced
        values: dict[str, Any] = {}
        for argument in self.arguments:
            if argument.variable is None:
                values[argument.out_name] = argument.value
                continue
            value = coerced.get(argument.variable, Undefined)
            if value is Undefined:
                if argument.required:
                    return None
                if argument.value is not Undefined:
                    values[argument.out_name] = argument.value
            elif value is None and argument.non_null:
                return None
            else:
                values[argument.out_name] = value
        return values


def plan_arguments(field_def: GraphQLField, node: FieldNode) -> ArgumentPlan | None:
    """The plan of this field node's arguments; None where graphql-core has to coerce them per request."""
    constant = literal_arguments(field_def, node)
    if constant is not None:
        if not all(type(value) in _IMMUTABLE for value in constant.values()):
            return None
        return ArgumentPlan((), MappingProxyType(constant))
    given = {argument.name.value: argument.value for argument in node.arguments or ()}
    arguments = []
    for name, definition in field_def.args.items():
        out_name = definition.out_name or name
        value_node = given.get(name)
        variable = value_node.name.value if isinstance(value_node, VariableNode) else None
        if value_node is not None and variable is None:
            value = coerce_input_literal(value_node, definition.type)
            if value is Undefined:
                return None  # a literal graphql-core refuses (or one holding a variable)
        elif is_required_argument(definition):
            if variable is None:
                return None  # a required argument left out: graphql-core reports it
            value = Undefined
        else:
            default: dict[str, Any] = {}
            try:
                maybe_use_default_value(default, out_name, definition, _refuse)
            except GraphQLError:
                return None
            value = default.get(out_name, Undefined)
            if value is Undefined and variable is None:
                continue  # left out, no default: graphql-core leaves it out too
        if value is not Undefined and type(value) not in _IMMUTABLE:
            return None
        arguments.append(_Argument(out_name, variable, value, is_required_argument(definition),
                                   is_non_null_type(definition.type)))
    return ArgumentPlan(tuple(arguments), None)


def _refuse(error: GraphQLError, path: list[str | int]) -> None:
    raise error
