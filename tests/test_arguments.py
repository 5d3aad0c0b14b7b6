"""Argument converters planned per type (`ragweave.schema.arguments`) build exactly what Strawberry's
`convert_argument` builds, for every argument of ragweave's schema and for the shapes it does not use yet."""

from __future__ import annotations

import enum
from typing import Annotated

import pytest
import strawberry
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    coerce_input_value,
)
from graphql.pyutils import Undefined
from strawberry.relay import GlobalID
from strawberry.types.arguments import convert_argument
from strawberry.types.base import StrawberryOptional
from strawberry.types.maybe import Maybe

from ragweave.schema import build_schema
from ragweave.schema.arguments import ArgumentConverters
from ragweave.settings import Settings

SCALAR_SAMPLES = {"String": "text", "ID": "id-1", "Int": 3, "Float": 0.5, "Boolean": True, "JSON": {"a": [1, "b"]}}


def _raw(input_type: GraphQLInputType, variant: str, depth: int = 0) -> object:
    """An input value as a client sends it: every field set ("full"), only the required ones ("required"), or
    the nullable ones set to null ("nulls")."""
    if isinstance(input_type, GraphQLNonNull):
        return _raw(input_type.of_type, variant, depth)
    if isinstance(input_type, GraphQLList):
        return [_raw(input_type.of_type, variant, depth + 1) for _ in range(2)]
    if isinstance(input_type, GraphQLEnumType):
        return next(iter(input_type.values))
    if isinstance(input_type, GraphQLScalarType):
        return SCALAR_SAMPLES[input_type.name]
    assert isinstance(input_type, GraphQLInputObjectType)
    value = {}
    for name, field in input_type.fields.items():
        non_null = isinstance(field.type, GraphQLNonNull)
        if non_null and field.default_value is Undefined:
            value[name] = _raw(field.type, variant, depth + 1)
        elif variant == "nulls" and not non_null:
            value[name] = None
        elif variant == "full" and depth < 3:
            value[name] = _raw(field.type, variant, depth + 1)
    return value


def _converters(schema: strawberry.Schema) -> ArgumentConverters:
    converter = schema.schema_converter
    return ArgumentConverters(schema.config, converter.scalar_registry)


def _strawberry(schema: strawberry.Schema, type_: object, value: object) -> object:
    return convert_argument(value, type_, schema.schema_converter.scalar_registry, schema.config)


def _arguments(schema: strawberry.Schema):
    for graphql_type in schema._schema.type_map.values():
        if not isinstance(graphql_type, GraphQLObjectType):
            continue
        for field_name, field_def in graphql_type.fields.items():
            field = field_def.extensions.get("strawberry-definition")
            for argument in getattr(field, "arguments", None) or ():
                graphql_name = schema.config.name_converter.from_argument(argument)
                yield f"{graphql_type.name}.{field_name}({graphql_name})", argument, field_def.args[graphql_name]


SCHEMA = build_schema(Settings())
ARGUMENTS = list(_arguments(SCHEMA))


def test_the_schema_has_input_object_arguments_to_check():
    names = {name for name, _, _ in ARGUMENTS}
    assert {"Mutation.chat(input)", "Mutation.ingest(documents)", "Subscription.chatStream(input)"} <= names


@pytest.mark.parametrize("variant", ["full", "required", "nulls"])
@pytest.mark.parametrize(("name", "argument", "graphql_argument"), ARGUMENTS, ids=[a[0] for a in ARGUMENTS])
def test_every_argument_of_the_schema_converts_as_strawberry_converts_it(name, argument, graphql_argument, variant):
    converters = _converters(SCHEMA)
    convert = converters.for_type(argument.type)
    assert convert is not None, f"{name} is left to convert_argument"
    value = coerce_input_value(_raw(graphql_argument.type, variant), graphql_argument.type)
    expected = _strawberry(SCHEMA, argument.type, value)
    converted = convert(value)
    assert converted == expected
    assert type(converted) is type(expected)
    if isinstance(value, list):
        assert converted is not value  # a copy, as Strawberry makes: graphql-core may share default values


@strawberry.enum
class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


@strawberry.input
class Tree:
    label: str
    note: str | None  # no default: absent, it is None (Strawberry's implicit default)
    colour: Colour = Colour.RED
    colours: list[Colour] | None = None
    grid: list[list[int]] | None = None
    children: list[Tree] | None = None
    parent: Tree | None = strawberry.UNSET


@strawberry.input
class Custom:
    value: int


# Strawberry's hook for an input type that builds its own value (its pydantic integration sets it)
Custom.__strawberry_definition__.from_input = lambda type_, value, context: type_(value=value["value"] * 10)


@strawberry.input
class WithCustom:
    name: str
    custom: Custom | None = None


@strawberry.input
class WithMaybe:
    note: Maybe[str]


@strawberry.input
class WithGlobalID:
    ref: GlobalID


@strawberry.input
class Mixed:
    tree: Tree
    elsewhere: Annotated[WithCustom, strawberry.lazy("tests.test_arguments")] | None = None


@strawberry.type
class Query:
    @strawberry.field
    def tree(self, tree: Tree, trees: list[Tree | None] | None = None) -> str:
        return ""

    @strawberry.field
    def odd(self, a: WithCustom, b: WithMaybe, c: WithGlobalID, d: Mixed) -> str:
        return ""


SYNTHETIC = strawberry.Schema(Query)


def _argument(field: str, name: str):
    field_def = SYNTHETIC._schema.query_type.fields[field]
    argument = next(a for a in field_def.extensions["strawberry-definition"].arguments if a.python_name == name)
    return argument, field_def.args[name]


@pytest.mark.parametrize("raw", [
    {"label": "root"},
    {"label": "root", "colour": "BLUE", "colours": ["RED", "BLUE"], "grid": [[1, 2], [], [3]],
     "children": [{"label": "a", "children": [{"label": "b", "parent": None}]}, {"label": "c"}],
     "parent": {"label": "up", "colours": None}},
    {"label": "root", "children": [], "grid": None, "parent": None},
])
def test_recursive_inputs_enums_and_nested_lists_convert_as_strawberry_converts_them(raw):
    argument, graphql_argument = _argument("tree", "tree")
    value = coerce_input_value(raw, graphql_argument.type)
    converted = _converters(SYNTHETIC).for_type(argument.type)(value)
    assert converted == _strawberry(SYNTHETIC, argument.type, value)
    assert converted.parent is strawberry.UNSET or converted.parent == _strawberry(SYNTHETIC, argument.type,
                                                                                    value).parent
    if converted.grid is not None:
        assert converted.grid is not value["grid"] and converted.grid[0] is not value["grid"][0]


def test_lists_of_optional_inputs_keep_their_nulls():
    argument, graphql_argument = _argument("tree", "trees")
    assert isinstance(argument.type, StrawberryOptional)
    value = coerce_input_value([{"label": "a"}, None, {"label": "b", "colour": "BLUE"}], graphql_argument.type)
    converted = _converters(SYNTHETIC).for_type(argument.type)(value)
    assert converted == _strawberry(SYNTHETIC, argument.type, value)
    assert converted[1] is None
    assert _converters(SYNTHETIC).for_type(argument.type)(None) is None


@pytest.mark.parametrize("name", ["a", "b", "c", "d"])
def test_types_needing_more_than_building_are_left_to_strawberry(name):
    """`from_input`, Maybe and GlobalID anywhere inside, even below a lazy reference: Strawberry converts."""
    argument, _ = _argument("odd", name)
    converters = _converters(SYNTHETIC)
    assert converters.for_type(argument.type) is None


def test_a_type_left_to_strawberry_leaves_no_half_planned_type_behind():
    converters = _converters(SYNTHETIC)
    argument, _ = _argument("odd", "d")  # Mixed: Tree plans, WithCustom does not
    assert converters.for_type(argument.type) is None
    assert Mixed not in converters._planned and WithCustom not in converters._planned
    tree, graphql_tree = _argument("tree", "tree")
    value = coerce_input_value({"label": "x", "children": [{"label": "y"}]}, graphql_tree.type)
    assert converters.for_type(tree.type)(value) == _strawberry(SYNTHETIC, tree.type, value)
