"""Completers generated for selections that only read attributes.

Most objects of a large answer (a hit's chunk, its document, an entity's neighbours) are completed by reading
attributes and serializing scalars: the executor's loop takes the same few steps for every field of every such
object. A selection whose every field is a plain attribute (a built-in scalar or enum or a list of them,
`__typename`, or an object or a list of objects whose own selection is again of this kind) is compiled here, once,
into one Python function that builds the object's dict directly, keys in the order the selection gives them. (A
resolver field whose value a carrier holds is read the same way: `ragweave.schema.direct_root`.)

The function handles only the plain case. Whenever a value is not plain (null for a non-null field, a value of
another type, a scalar that does not serialize, a missing attribute) it raises, and the executor completes the
whole value through its general path, which reports the error exactly as graphql-core does. The function only
reads attributes, so completing a value again there is safe.
"""

from __future__ import annotations

import keyword
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from math import isfinite
from typing import Any

from graphql.pyutils import Undefined
from graphql.type.scalars import serialize_float, serialize_id, serialize_string


class Impure(Exception):
    """A value the generated function does not complete; the executor's general path does."""


@dataclass(frozen=True, slots=True)
class LeafField:
    """A built-in scalar or enum, or (`is_list`) a list of them, as ObjectField is an object or a list of them."""

    key: str
    attribute: str
    serialize: Callable[[Any], Any]
    non_null: bool
    is_list: bool = False
    item_non_null: bool = False


@dataclass(frozen=True, slots=True)
class TypeNameField:
    key: str
    type_name: str


@dataclass(frozen=True, slots=True)
class ObjectField:
    key: str
    attribute: str
    non_null: bool
    is_list: bool
    item_non_null: bool
    accepts: tuple[type, ...]  # the classes of the values it completes (ragweave.schema.execution: `_Compiled`)
    complete: Callable[[Any], dict[str, Any]]  # the object's own generated completer


PlainField = LeafField | TypeNameField | ObjectField
_AS_IS_IF_STR = (serialize_string, serialize_id)  # both return a str unchanged


def usable_attribute(name: str) -> bool:
    return name.isidentifier() and not keyword.iskeyword(name)


def compile_completer(fields: Sequence[PlainField]) -> Callable[[Any], dict[str, Any]]:
    """`complete(source) -> {key: value, ...}`, raising for any value that is not plain."""
    env: dict[str, Any] = {"Undefined": Undefined, "Impure": Impure, "isfinite": isfinite}
    body: list[str] = []
    items: list[str] = []
    for i, field in enumerate(fields):
        result = f"r{i}"
        items.append(f"{field.key!r}: {result}")
        if isinstance(field, TypeNameField):
            body.append(f"{result} = {field.type_name!r}")
            continue
        if not usable_attribute(field.attribute):
            raise ValueError(f"not an attribute name: {field.attribute!r}")
        body.append(f"v = source.{field.attribute}")
        body += ["if v is None:", "    raise Impure" if field.non_null else f"    {result} = None"]
        if isinstance(field, LeafField):
            body += _leaf_list(field, result, i, env) if field.is_list else _leaf(field, result, i, env)
        else:
            body += _object(field, result, i, env)
    source = "\n".join(["def complete(source):", *(f"    {line}" for line in body),
                        f"    return {{{', '.join(items)}}}"])
    exec(compile(source, "<ragweave completer>", "exec"), env)  # built from names checked above
    return env["complete"]


def _leaf(field: LeafField, result: str, i: int, env: dict[str, Any]) -> list[str]:
    return _serialized(field.serialize, "v", result, i, env)


def _leaf_list(field: LeafField, result: str, i: int, env: dict[str, Any]) -> list[str]:
    item = ["if x is None:", "    raise Impure" if field.item_non_null else "    y = None",
            *_serialized(field.serialize, "x", "y", i, env)]
    return ["elif type(v) is list or type(v) is tuple:", f"    {result} = []", "    for x in v:",
            *(f"        {line}" for line in item), f"        {result}.append(y)", "else:", "    raise Impure"]


def _serialized(serialize: Callable[[Any], Any], value: str, target: str, i: int, env: dict[str, Any]) -> list[str]:
    """The branches, after an `if` on `value`, that set `target` to `value` serialized, raising Impure where it
    does not serialize; a str or finite float is taken as it is where the scalar would return it unchanged."""
    env[f"s{i}"] = serialize
    lines = []
    if serialize in _AS_IS_IF_STR:
        lines += [f"elif type({value}) is str:", f"    {target} = {value}"]
    elif serialize is serialize_float:
        lines += [f"elif type({value}) is float and isfinite({value}):", f"    {target} = {value}"]
    return [*lines, "else:", f"    {target} = s{i}({value})",
            f"    if {target} is None or {target} is Undefined:", "        raise Impure"]


def _object(field: ObjectField, result: str, i: int, env: dict[str, Any]) -> list[str]:
    env[f"c{i}"] = field.complete
    for j, accepted in enumerate(field.accepts):
        env[f"t{i}_{j}"] = accepted

    def accepted(name: str) -> str:
        return " or ".join(f"type({name}) is t{i}_{j}" for j in range(len(field.accepts))) or "False"

    if not field.is_list:
        return [f"elif {accepted('v')}:", f"    {result} = c{i}(v)", "else:", "    raise Impure"]
    lines = ["elif type(v) is list or type(v) is tuple:", f"    {result} = []", "    for x in v:",
             f"        if {accepted('x')}:", f"            {result}.append(c{i}(x))"]
    if not field.item_non_null:
        lines += ["        elif x is None:", f"            {result}.append(None)"]
    return [*lines, "        else:", "            raise Impure", "else:", "    raise Impure"]
