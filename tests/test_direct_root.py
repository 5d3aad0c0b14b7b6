"""A query of one plain root field runs without graphql-core's executor (`ragweave.schema.direct_root`) and answers
exactly what graphql-core's full path answers: data, errors, error paths and null propagation; its resolver is
called once, with the same info."""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import pytest
import strawberry
from graphql import DocumentNode, execute, parse
from strawberry.execution.is_awaitable import optimized_is_awaitable
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.utils.await_maybe import await_maybe

from ragweave.schema.direct_root import DirectRun, carried_answer, plain_answer, start
from ragweave.schema.execution import Executor

CALLS: list[tuple[object, ...]] = []


@dataclasses.dataclass(frozen=True, slots=True)
class PartRecord:
    """What a datasource would hold: every plain field of Part under the same name."""

    id: str
    name: str
    size: int | None


@strawberry.type
class Part:
    id: strawberry.ID
    name: str
    size: int | None

    plain_record = PartRecord

    @strawberry.field
    def upper(self) -> str:
        return self.name.upper()


def _as_records(value: Any) -> Any:
    """In a direct run the resolvers answer records, as `search` does: every answer must stay graphql-core's."""
    if not plain_answer.get():
        return value
    if isinstance(value, list):
        return [_as_records(item) for item in value]
    return PartRecord(value.id, value.name, value.size) if isinstance(value, Part) else value


def _parts(n: int, mode: str) -> Any:
    if mode == "raise":
        raise ValueError("the parts broke")
    if mode == "null":
        return None
    parts: list[Any] = [Part(id=strawberry.ID(str(i)), name=f"p{i}", size=i if i % 2 else None) for i in range(n)]
    if mode == "null-name":
        parts.append(Part(id=strawberry.ID("x"), name=None, size=1))  # type: ignore[arg-type]
    if mode == "wrong-type":
        parts.append("not a part")
    return parts


class ShelfAnswer:
    """Shelf's carrier: its attributes and the values of its resolver fields `label` and `parts`."""

    __slots__ = ("broken", "id", "label", "parts")
    carries = frozenset({"label", "parts"})

    def __init__(self, shelf: Shelf) -> None:
        self.id, self.broken = shelf.id, shelf.broken
        self.label = None if shelf.broken else f"shelf {shelf.id}"
        self.parts = [PartRecord(part.id, part.name, part.size) for part in _parts(2, "ok")]


@strawberry.type
class Shelf:
    id: strawberry.ID
    broken: strawberry.Private[bool]

    carrier = ShelfAnswer

    @strawberry.field
    def label(self) -> str:
        CALLS.append(("label", self.id))
        return None if self.broken else f"shelf {self.id}"  # type: ignore[return-value]

    @strawberry.field
    async def parts(self) -> list[Part]:
        CALLS.append(("shelf parts", self.id))
        return _parts(2, "ok")

    @strawberry.field
    def wide(self, times: int) -> str:  # a resolver field with arguments: no carrier carries it
        return "w" * times


@strawberry.type
class Query:
    @strawberry.field
    async def shelves(self, n: int, mode: str = "ok") -> list[Shelf]:
        CALLS.append(("shelves", n, mode, plain_answer.get(), carried_answer.get()))
        shelves = [Shelf(id=strawberry.ID(str(i)), broken=mode == "broken" and i == 1) for i in range(n)]
        return [ShelfAnswer(s) for s in shelves] if carried_answer.get() and mode != "objects" else shelves

    @strawberry.field
    async def parts(self, info: strawberry.Info, n: int, mode: str = "ok") -> list[Part]:
        selected = info.selected_fields[0]
        CALLS.append(("parts", n, mode, info.context["tag"], info.variable_values, info.path.as_list(),
                      selected.alias, [getattr(selection, "name", "...") for selection in selected.selections]))
        return _as_records(_parts(n, mode))

    @strawberry.field
    def sync_parts(self, n: int) -> list[Part | None]:
        CALLS.append(("sync_parts", n))
        return _as_records([*_parts(n, "ok"), None])

    @strawberry.field
    async def part(self, info: strawberry.Info, id: strawberry.ID, mode: str = "ok") -> Part | None:
        CALLS.append(("part", id, mode, info.context["tag"]))
        if mode == "raise":
            raise ValueError("no such part")
        if mode == "wrong-type":
            return 3  # type: ignore[return-value]
        return None if mode == "none" else _as_records(Part(id=id, name="one", size=None))

    @strawberry.field
    def count(self, n: int) -> int:
        return n


SCHEMA = strawberry.Schema(query=Query)._schema
PARTS = "query Q($n: Int!, $m: String) { parts(n: $n, mode: $m) { id name size } }"
PART = "query P($id: ID!, $m: String) { part(id: $id, mode: $m) { id name } }"
DIRECT = [  # (document, variables, whether it answers errors)
    (PARTS, {"n": 3}, False),
    (PARTS, {"n": 0, "m": "ok"}, False),
    (PARTS, {"n": 2, "m": "raise"}, True),  # a non-null root field: the error empties the data
    (PARTS, {"n": 2, "m": "null"}, True),
    (PARTS, {"n": 2, "m": "null-name"}, True),  # null for a non-null field, propagated to the root
    (PARTS, {"n": 1, "m": "wrong-type"}, True),
    (PARTS, {"n": 2, "m": None}, True),  # null for a non-null argument with a default
    (PARTS, {"n": None}, True),  # refused with the variables, by graphql-core's `build`
    ("query Q($n: Int) { parts(n: $n) { id } }", {"n": None}, True),  # refused by the arguments' plan
    ("query Q($n: Int) { parts(n: $n) { id } }", {}, True),
    ("query Q($n: Int!) { many: parts(n: $n) { key: id __typename ... on Part { name } } }", {"n": 2}, False),
    ('{ parts(n: 2, mode: "raise") { id } }', None, True),
    ("query S($n: Int!) { syncParts(n: $n) { id size } }", {"n": 2}, False),
    (PART, {"id": "7"}, False),
    (PART, {"id": "7", "m": "none"}, False),
    (PART, {"id": "7", "m": "raise"}, True),  # a nullable root field: null and the error
    (PART, {"id": "7", "m": "wrong-type"}, True),
]
NOT_DIRECT = [
    ("query Q($n: Int!) { parts(n: $n) { id } count(n: 1) }", {"n": 2}, False),  # two root fields
    ("query Q($n: Int!) { parts(n: $n) { id upper } }", {"n": 2}, False),  # a resolver below
    ("query Q($n: Int!, $x: Boolean!) { parts(n: $n) @include(if: $x) { id } }", {"n": 2, "x": True}, False),
    ("query Q($n: Int!) { count(n: $n) }", {"n": 2}, False),  # a scalar
    ("query Q($n: Int!) { shelves(n: $n) { id wide(times: 2) } }", {"n": 2}, False),  # a resolver not carried
]


async def _graphql_core(document: str, variables: dict | None) -> tuple[object, object]:
    result = await await_maybe(execute(SCHEMA, parse(document), variable_values=variables,
                                       context_value={"tag": "core"},
                                       executor_class=StrawberryGraphQLCoreExecutionContext))
    return result.data, [error.formatted for error in result.errors or ()]


@functools.cache
def _parsed(document: str) -> DocumentNode:
    return parse(document)  # one node per text, as the document cache gives it


async def _ours(document: str, variables: dict | None, direct: bool, tag: str = "ours") -> tuple[object, object]:
    run = start(SCHEMA, _parsed(document), None, {"tag": tag}, variables, optimized_is_awaitable)
    if run is None:  # variables graphql-core's `build` refuses
        assert variables and None in variables.values()
        run = Executor.build(SCHEMA, _parsed(document), None, {"tag": tag}, variables)
        assert isinstance(run, list)
        return None, [error.formatted for error in run]
    assert isinstance(run, DirectRun) == direct
    result = await await_maybe(run.execute_operation())
    return result.data, [error.formatted for error in result.errors or ()]


def _calls(tag: str) -> list[tuple[object, ...]]:
    calls = [tuple("*" if part == tag else part for part in call) for call in CALLS]
    CALLS.clear()
    return calls


@pytest.mark.parametrize(("document", "variables", "errors"), DIRECT + NOT_DIRECT)
async def test_the_answer_and_the_resolver_calls_are_graphql_cores(document, variables, errors):
    CALLS.clear()
    theirs = await _graphql_core(document, variables)
    assert bool(theirs[1]) == errors, theirs
    their_calls = _calls("core")
    for tag in ("first", "second"):  # the request that works the direct root out, and one that finds it kept
        assert await _ours(document, variables, (document, variables, errors) in DIRECT, tag) == theirs
        assert _calls(tag) == their_calls


async def test_a_direct_run_does_not_build_an_executor_unless_it_steps_aside(monkeypatch):
    built: list[str] = []
    from_prepared = Executor.from_prepared.__func__

    def observed(cls, *args, **kwargs):
        built.append("executor")
        return from_prepared(cls, *args, **kwargs)

    await _ours(PARTS, {"n": 3}, True)  # worked out and kept
    monkeypatch.setattr(Executor, "from_prepared", classmethod(observed))
    for variables, expected in (({"n": 3}, []), ({"n": 2, "m": "raise"}, ["executor"]),
                                ({"n": 2, "m": "null-name"}, ["executor"])):
        built.clear()
        await _ours(PARTS, variables, True)
        assert built == expected, variables


SHELVES = "query Q($n: Int!, $m: String) { shelves(n: $n, mode: $m) { id label parts { id name } } }"


@pytest.mark.parametrize("mode", ["ok", "objects", "broken"])
async def test_carried_resolver_fields_are_read_from_carriers_and_answer_as_graphql_core(mode):
    """`ok`: the resolver answers carriers, whose fields are read, not resolved. `objects`: it answers Strawberry
    objects anyway, and `broken`: a carrier holds null for a non-null field: the completer steps aside, and
    graphql-core's path resolves the fields (on the carriers too) and reports the error where graphql-core does."""
    CALLS.clear()
    theirs = await _graphql_core(SHELVES, {"n": 3, "m": mode})
    assert bool(theirs[1]) == (mode == "broken"), theirs
    their_fields = _calls("core")[1:]
    assert their_fields
    for tag in ("first", "second"):
        assert await _ours(SHELVES, {"n": 3, "m": mode}, True, tag) == theirs
        calls = _calls(tag)
        assert calls[0] == ("shelves", 3, mode, False, True)  # a carried answer, not a plain one: no bare records
        assert calls[1:] == ([] if mode == "ok" else their_fields)
