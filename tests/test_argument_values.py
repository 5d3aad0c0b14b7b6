"""Argument plans (`ragweave.schema.argument_values`) give a field's resolver the values graphql-core's
`get_argument_values` gives it, and leave to it every case it would refuse."""

from __future__ import annotations

import itertools

import pytest
from graphql import GraphQLError, build_schema, get_operation_ast, parse
from graphql.execution.values import get_argument_values, get_variable_values
from graphql.pyutils import Undefined

from ragweave.schema.argument_values import plan_arguments

SCHEMA = build_schema("""
    input Box { size: Int }
    type Query {
      f(s: String, n: Int!, d: Int = 3, dn: Int! = 4, x: Float, b: Boolean = true, box: Box, l: [Int]): String
    }
""")
FIELD = SCHEMA.query_type.fields["f"]
VARIABLES = "$s: String, $n: Int, $d: Int, $dn: Int, $x: Float, $b: Boolean"
VALUES = [Undefined, None, 0, 7]  # for $n, $d, $dn (Int variables)


def _field(arguments: str):
    document = parse(f"query Q({VARIABLES}) {{ f({arguments}) }}")
    operation = get_operation_ast(document)
    return operation, operation.selection_set.selections[0]


def _theirs(node, variable_values):
    try:
        return get_argument_values(FIELD, node, variable_values)
    except GraphQLError:
        return "refused"


@pytest.mark.parametrize("arguments", [
    "n: $n", "n: 5", "n: $n, d: $d", "n: $n, dn: $dn", "n: 1, d: $d, dn: $dn, s: $s, x: $x, b: $b",
    'n: $n, s: "lit", x: 1.5, b: false', "n: $n, d: null", "n: $d, d: $n, dn: $n",
])
def test_planned_values_are_what_graphql_core_gives(arguments: str):
    operation, node = _field(arguments)
    plan = plan_arguments(FIELD, node)
    assert plan is not None
    for n, d, dn in itertools.product(VALUES, repeat=3):
        given = {name: value for name, value in (("n", n), ("d", d), ("dn", dn), ("s", "text"), ("x", 2.5),
                                                 ("b", False)) if value is not Undefined}
        variable_values = get_variable_values(SCHEMA, operation.variable_definitions, given)
        theirs, ours = _theirs(node, variable_values), plan.values(variable_values)
        if theirs == "refused":
            assert ours is None, (arguments, given)
        else:
            assert ours is not None and list(ours.items()) == list(theirs.items()), (arguments, given)
            assert [type(v) for v in ours.values()] == [type(v) for v in theirs.values()]


@pytest.mark.parametrize("arguments", [
    "s: $s",  # the required `n` left out
    "n: $n, box: {size: 1}",  # an input object: mutable, coerced per request
    "n: $n, l: [1, 2]",  # a list
    "n: null",  # a null literal for a non-null argument
    'n: "many"',  # a literal of the wrong type
])
def test_what_is_left_to_graphql_core(arguments: str):
    assert plan_arguments(FIELD, _field(arguments)[1]) is None


def test_constant_arguments_are_one_shared_read_only_mapping():
    operation, node = _field('n: 5, s: "a"')
    plan = plan_arguments(FIELD, node)
    variable_values = get_variable_values(SCHEMA, operation.variable_definitions, {})
    values = plan.values(variable_values)
    assert dict(values) == get_argument_values(FIELD, node) and values is plan.values(variable_values)
    with pytest.raises(TypeError):
        values["n"] = 6  # type: ignore[index]
