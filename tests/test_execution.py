"""The executor's short path for plain scalar fields answers exactly what graphql-core's full path answers."""

from __future__ import annotations

import enum
from pathlib import Path

import pytest
import strawberry
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from ragweave.schema import execution
from tests.graphql import execute
from tests.test_query_api import demo  # noqa: F401  (the fixture)

ROOT = Path(__file__).parent.parent
DOCS = (ROOT / "docs" / "frontend-operations.graphql").read_text()
PERF = (ROOT / "perf" / "operations.graphql").read_text()
QUERIES = [
    (DOCS, "SearchBox", {"text": "harbour dashboard"}),
    (DOCS, "CitationsPanel", {"question": "Who leads the Platform Team?"}),
    (DOCS, "EntityPage", {"id": "person:priya-nandan"}),
    (DOCS, "EntityIndex", {"after": None}),
    (PERF, "Deep", {"q": "Who leads the Platform Team?", "k": 20}),
    (PERF, "RetrieveWithEntities", {"q": "harbour dashboard", "k": 5}),
]


@pytest.fixture
def full_path_only(monkeypatch):
    def use_full_path() -> None:
        monkeypatch.setattr(execution.Executor, "execute_field", StrawberryGraphQLCoreExecutionContext.execute_field)

    return use_full_path


@pytest.mark.parametrize(("document", "operation", "variables"), QUERIES, ids=[q[1] for q in QUERIES])
async def test_the_demo_operations_answer_the_same_on_both_paths(
    datasources, demo, full_path_only, document, operation, variables  # noqa: F811
):
    short = await execute(datasources, document, variables, tenant=demo, operation=operation)
    assert any(plan for plans in execution._plans_by_schema.values() for plan in plans.values())
    full_path_only()
    full = await execute(datasources, document, variables, tenant=demo, operation=operation)
    assert untimed(short.ok()) == untimed(full.ok())


def untimed(value: object) -> object:
    if isinstance(value, dict):
        return {k: untimed(v) for k, v in value.items() if k != "queryTimeMs"}
    return [untimed(v) for v in value] if isinstance(value, list) else value


class Colour(enum.Enum):
    RED = "red"


@strawberry.type
class Item:
    name: str
    note: str | None
    colour: Colour
    count: int


@strawberry.type
class Query:
    @strawberry.field
    def items(self) -> list[Item]:
        return [Item(name="a", note=None, colour=Colour.RED, count=1),
                Item(name=None, note="n", colour=Colour.RED, count=2)]  # type: ignore[arg-type]

    @strawberry.field
    def odd(self) -> list[Item | None]:
        return [Item(name="b", note=None, colour=Colour.RED, count="many")]  # type: ignore[arg-type]


class ResolveHook(SchemaExtension):
    seen: list[str] = []

    def resolve(self, _next, root, info, *args, **kwargs):
        ResolveHook.seen.append(info.field_name)
        return _next(root, info, *args, **kwargs)


def run(query: str, *extensions: type[SchemaExtension]) -> tuple[object, list[str]]:
    schema = strawberry.Schema(Query, execution_context_class=execution.Executor, extensions=list(extensions))
    result = schema.execute_sync(query)
    return result.data, [f"{e.path}: {e.message}" for e in result.errors or []]


@pytest.mark.parametrize("query", ["{ items { name note colour count } }", "{ odd { name count } }"])
def test_nulls_errors_and_enums_match_graphql_core(query, full_path_only):
    short = run(query)
    full_path_only()
    assert short == run(query)


def test_a_resolve_hook_sees_every_field():
    ResolveHook.seen = []
    data, errors = run("{ odd { name colour } }", ResolveHook)
    assert data == {"odd": [{"name": "b", "colour": "RED"}]} and not errors
    assert ResolveHook.seen == ["odd", "name", "colour"]
