"""Strawberry's argument conversion (`convert_argument`), planned once per argument type.

Strawberry converts a coerced argument value to Python on every call, deciding again at each level of the value
what its type is (input object, list, optional, scalar, enum): a chat's `input` took twelve calls and a dozen
type tests per request. Here each argument type gets a converter built once, doing only what `convert_argument`
would do for that type: build input objects (absent fields without a default set to None), copy lists, pass
scalars and enums through, None and UNSET kept as they are.

A type whose conversion needs more (an input type with its own `from_input`, `Maybe`, `GlobalID`) anywhere
inside it is converted by Strawberry's `convert_argument` as before.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import MISSING
from typing import Any

from strawberry.relay.types import GlobalID
from strawberry.scalars import is_scalar
from strawberry.types.base import (
    StrawberryList,
    StrawberryMaybe,
    StrawberryOptional,
    has_object_definition,
)
from strawberry.types.enum import StrawberryEnumDefinition, has_enum_definition
from strawberry.types.lazy_type import LazyType
from strawberry.types.unset import UNSET

Converter = Callable[[Any], Any]


class _Unplanned(Exception):
    """The type needs Strawberry's own conversion."""


def _identity(value: Any) -> Any:
    return value


def _copy_list(value: Any) -> Any:
    return value if value is None or value is UNSET else list(value)


class ArgumentConverters:
    """Converters for one schema's argument types, built on first use and kept."""

    def __init__(self, config: Any, scalar_registry: Any) -> None:
        self.config = config
        self.scalar_registry = scalar_registry
        self._planned: dict[Any, Converter] = {}

    def for_type(self, type_: Any) -> Converter | None:
        """The converter of `type_`, or None when Strawberry's `convert_argument` must do it."""
        planned = dict(self._planned)
        try:
            return self._plan(type_)
        except _Unplanned:
            self._planned = planned  # nothing planned on the way may refer to a type left unplanned
            return None

    def _plan(self, type_: Any) -> Converter:
        try:
            return self._planned[type_]
        except KeyError:
            pass
        except TypeError:  # an unhashable annotation: left to Strawberry
            raise _Unplanned from None
        if isinstance(type_, StrawberryMaybe) or type_ is GlobalID:
            raise _Unplanned
        if isinstance(type_, LazyType):
            return self._plan(type_.resolve_type())
        if isinstance(type_, StrawberryOptional):
            return self._plan(type_.of_type)  # every converter passes None and UNSET through
        if isinstance(type_, StrawberryList):
            item = self._plan(type_.of_type)
            if item is _identity:  # leaf items: Strawberry copies the list as it is
                converter = _copy_list
            else:
                def converter(value: Any, item: Converter = item) -> Any:
                    return value if value is None or value is UNSET else [item(x) for x in value]
        elif is_scalar(type_, self.scalar_registry) or isinstance(type_, StrawberryEnumDefinition) \
                or has_enum_definition(type_):
            converter = _identity
        elif has_object_definition(type_) and type_.__strawberry_definition__.from_input is None:
            converter = self._input_object(type_)
        else:
            raise _Unplanned
        self._planned[type_] = converter
        return converter

    def _input_object(self, cls: type) -> Converter:
        definition = cls.__strawberry_definition__
        absent = {f.python_name: None for f in definition.fields
                  if definition.is_input and f.default_value is MISSING and f.default_factory is MISSING}
        fields: list[tuple[str, str, Converter]] = []

        def converter(value: Any) -> Any:
            if value is None or value is UNSET:
                return value
            kwargs = dict(absent)
            for graphql_name, python_name, convert in fields:
                if graphql_name in value:
                    kwargs[python_name] = convert(value[graphql_name])
            return cls(**kwargs)

        self._planned[cls] = converter  # before its fields: an input type may contain itself
        for field in definition.fields:
            field_type = field.resolve_type(type_definition=definition)
            fields.append((self.config.name_converter.from_field(field), field.python_name, self._plan(field_type)))
        return converter
