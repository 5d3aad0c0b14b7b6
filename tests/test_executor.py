"""The executor's short path for plain leaf fields answers exactly what graphql-core's own path answers."""

from __future__ import annotations

from pathlib import Path

import pytest
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from perf.fakes import Latency, fake_datasources
from ragweave.context import build_context
from ragweave.jobs import JobBoard
from ragweave.schema.executor import Executor
from tests.graphql import SETTINGS, schema

ROOT = Path(__file__).parent.parent
PERF = (ROOT / "perf" / "operations.graphql").read_text()
DOCS = (ROOT / "docs" / "frontend-operations.graphql").read_text()
CASES = [
    (PERF, "Small", {"q": "launch plan", "k": 10}),
    (PERF, "Deep", {"q": "launch plan", "k": 5}),
    (PERF, "VectorOnlyRetrieve", {"q": "launch plan", "k": 5}),
    (PERF, "RetrieveWithEntities", {"q": "launch plan", "k": 5}),
    (DOCS, "SearchBox", {"text": "budget roadmap"}),
    (DOCS, "CitationsPanel", {"question": "Who leads the platform team?"}),
    (DOCS, "EntityPage", {"id": "ent-003"}),
    ("{ a: search(query: \"x\", topK: 2) { s: score chunk { id i: index t: text text } } version }", None, None),
    ("{ chunk(id: \"doc-001#0\") { id text index documentId metadata document { id title } } }", None, None),
    ("{ chunk(id: \"nope\") { id } entity(id: \"nope\") { name } }", None, None),
    ("{ search(query: \"\", topK: 3) { score } }", None, None),  # an error at the root: data is null
    # an error below plain object fields, propagated up through them
    ("{ search(query: \"x\", topK: 2) { chunk { id entities { name neighbors(hops: 9) { id } } } } }", None, None),
    ("{ entity(id: \"ent-001\") { name type neighbors(hops: 9) { id } relations { type } } }", None, None),
]


async def run(query: str, operation: str | None, variables: dict | None) -> tuple:
    context = build_context(fake_datasources(Latency()), SETTINGS, JobBoard(), tenant="default")
    result = await schema().execute(query, variable_values=variables, context_value=context,
                                    operation_name=operation)
    return untimed(result.data), [e.formatted for e in result.errors or []]


def untimed(value: object) -> object:
    """Without `queryTimeMs`, the one field that differs between two runs."""
    if isinstance(value, dict):
        return {k: untimed(v) for k, v in value.items() if k != "queryTimeMs"}
    return [untimed(v) for v in value] if isinstance(value, list) else value


@pytest.mark.parametrize(("query", "operation", "variables"), CASES)
async def test_same_answer_as_graphql_core(query, operation, variables, monkeypatch):
    fast = await run(query, operation, variables)
    monkeypatch.setattr(Executor, "execute_field", StrawberryGraphQLCoreExecutionContext.execute_field)
    assert fast == await run(query, operation, variables)
