"""Prepared operations (`ragweave.schema.prepared`) give the executor exactly what graphql-core's `Executor.build`
gives it, and leave to `build` every variable it would refuse."""

from __future__ import annotations

import math

import pytest
from graphql import OperationDefinitionNode, build_schema, get_operation_ast, parse
from graphql.execution.values import get_variable_values
from graphql.pyutils import Undefined

from ragweave.schema.direct_root import start
from ragweave.schema.execution import Executor
from ragweave.schema.prepared import prepare

SCHEMA = build_schema("""
    scalar Json
    enum Color { RED GREEN }
    input Box { size: Int! }
    type Query { f(s: String, i: Int, x: Float, b: Boolean, id: ID, j: Json, c: Color, box: Box, l: [Int]): String }
""")
SCALARS = ["String", "Int", "Float", "Boolean", "ID"]
VALUES = [Undefined, None, "text", "", "12", 0, 7, 2**31 - 1, 2**31, -(2**31) - 1, 1.5, 3.0, -0.0, math.nan, math.inf,
          True, False, [1], {"a": 1}, 10**30]


def _comparable(values) -> object:
    """Variable values with the exact type of each coerced value (3 and 3.0 compare equal)."""
    if isinstance(values, list):
        return "refused"
    sources = [(name, source.signature.name, str(source.signature.type), source.signature.default,
                source.signature.default_value, source.value) for name, source in values.sources.items()]
    return sources, [(name, type(value), value) for name, value in values.coerced.items()]


@pytest.mark.parametrize("type_", [*SCALARS, *(f"{name}!" for name in SCALARS)])
def test_variables_are_coerced_as_graphql_core_coerces_them(type_: str):
    document = parse(f"query Q($v: {type_}, $w: Int) {{ f(s: \"a\") }}")
    prepared = prepare(SCHEMA, document, None)
    assert prepared is not None
    definitions = get_operation_ast(document).variable_definitions
    for value in VALUES:
        inputs = {"w": 2} if value is Undefined else {"v": value, "w": 2}
        theirs = get_variable_values(SCHEMA, definitions, inputs)
        ours = prepared.variable_values(inputs)
        if isinstance(theirs, list):
            assert ours is None, (type_, value)
        else:
            assert ours is not None and _comparable(ours) == _comparable(theirs), (type_, value)


def test_no_variables_at_all():
    document = parse("{ f }")
    prepared = prepare(SCHEMA, document, None)
    assert prepared is not None
    assert _comparable(prepared.variable_values(None)) == _comparable(get_variable_values(SCHEMA, (), {}))


@pytest.mark.parametrize("query", [
    "query Q($v: Int = 3) { f }",  # a default value
    "query Q($v: Json) { f }",  # a custom scalar
    "query Q($v: Color) { f }",  # an enum
    "query Q($v: Box) { f }",  # an input object
    "query Q($v: [Int]) { f }",  # a list
    "query Q($v: Nope) { f }",  # an unknown type: build refuses it
    "query A { f } query B { f }",  # several operations and no name: build refuses it
])
def test_what_is_left_to_build(query: str):
    assert prepare(SCHEMA, parse(query), None) is None


def test_an_unknown_operation_name_is_left_to_build():
    assert prepare(SCHEMA, parse("query A { f }"), "B") is None


def test_the_executor_gets_what_build_gives_it():
    document = parse("""
        query A($s: String!) { f(s: $s) ...F }
        query B($i: Int, $b: Boolean!) { f(i: $i) ...F ...G }
        fragment F on Query { f(b: true) }
        fragment G on Query { f(x: 1.5) }
    """)
    context = object()
    for name, variables in (("A", {"s": "x"}), ("B", {"b": False}), ("B", {"i": 4, "b": True})):
        assert prepare(SCHEMA, document, name) is not None
        ours = start(SCHEMA, document, name, context, variables, None)
        theirs = Executor.build(SCHEMA, document, None, context, variables, name)
        assert isinstance(ours, Executor) and isinstance(theirs, Executor)
        assert isinstance(ours.operation, OperationDefinitionNode) and ours.operation is theirs.operation
        assert _comparable(ours.variable_values) == _comparable(theirs.variable_values)
        for attribute in ("fragment_definitions", "fragments", "root_value", "context_value",
                          "field_resolver", "type_resolver", "subscribe_field_resolver", "middleware_manager",
                          "abort_signal", "hooks", "error_propagation", "enable_early_execution",
                          "hide_suggestions", "operation_extensions"):
            assert getattr(ours, attribute) == getattr(theirs, attribute), attribute
    assert start(SCHEMA, document, "B", context, {"b": None}, None) is None
    assert start(SCHEMA, parse("query D($v: Int = 3) { f }"), None, context, {}, None) is None
