"""Operation limits: cost budget, cost-weighted rate limits, depth/alias limits and stage deadlines."""

from __future__ import annotations

import uuid
from dataclasses import replace
from pathlib import Path

from graphql import parse

from ragweave.ratelimit import RateLimiter
from ragweave.resolvers.cost import operation_cost
from tests.corpus import seed_corpus
from tests.graphql import SETTINGS, execute, schema

OPERATIONS = (Path(__file__).parent.parent / "perf" / "operations.graphql").read_text()
GREEDY = """{ retrieve(query: "x", topK: 100, maxHops: 3) { hits { chunk { entities {
    neighbors(hops: 3, first: 200) { mentions(first: 200) { id } } } } } } }"""


def cost(query: str, variables: dict | None = None, operation: str | None = None) -> int:
    return operation_cost(schema()._schema, parse(query), variables, operation)


def test_cost_grows_with_what_is_asked_for():
    small = cost(OPERATIONS, {"q": "x", "k": 10}, "Small")
    assert small == (2 + 10) + 10 * 1  # the search itself, then 10 hits x chunk
    deep_10 = cost(OPERATIONS, {"q": "x", "k": 10}, "Deep")
    deep_50 = cost(OPERATIONS, {"q": "x", "k": 50}, "Deep")
    assert small < deep_10 < deep_50 <= SETTINGS.max_cost
    assert cost(GREEDY) > SETTINGS.max_cost
    fragment = "query { ...F } fragment F on Query { search(query: \"x\", topK: 7) { score } }"
    assert cost(fragment) == 9


async def test_over_budget_operations_are_refused_before_running(datasources, tenant):
    response = await execute(datasources, GREEDY, tenant=tenant)
    assert response.codes() == ["COST_LIMIT"]
    assert response.errors[0]["extensions"]["cost"] > response.errors[0]["extensions"]["budget"]
    assert response.calls == {}  # nothing ran
    fine = await execute(datasources, '{ search(query: "x", topK: 3) { score } }', tenant=tenant)
    assert fine.extensions["cost"] == {"estimated": 5}


async def test_rate_limits_are_weighted_by_cost(datasources, tenant):
    await seed_corpus(datasources, tenant, size=4)
    limiter = RateLimiter(per_second=1, burst=30)
    query = '{ search(query: "plan", topK: 10) { score } }'  # costs 12
    assert (await execute(datasources, query, tenant=tenant, limiter=limiter)).ok()
    assert (await execute(datasources, query, tenant=tenant, limiter=limiter)).ok()
    limited = await execute(datasources, query, tenant=tenant, limiter=limiter)
    assert limited.codes() == ["RATE_LIMITED"] and limited.errors[0]["extensions"]["retryAfter"] > 5
    cheap = await execute(datasources, "{ version }", tenant=tenant, limiter=limiter)
    assert cheap.ok()["version"]


async def test_depth_and_alias_limits(datasources, tenant):
    deep = "{ entity(id: \"x\") { " + "neighbors { " * 12 + "id" + " }" * 12 + " } }"
    assert (await execute(datasources, deep, tenant=tenant)).codes() == ["GRAPHQL_VALIDATION_FAILED"]
    aliases = "{ " + " ".join(f"a{i}: version" for i in range(40)) + " }"
    assert (await execute(datasources, aliases, tenant=tenant)).codes() == ["GRAPHQL_VALIDATION_FAILED"]


async def test_a_graph_stage_over_its_deadline_is_cancelled_and_reported(datasources, tenant):
    await seed_corpus(datasources, tenant, size=6)
    hurried = replace(SETTINGS, graph_stage_budget_s=1e-6)
    query = '{ retrieve(query: "plan", topK: 3) { hits { scores { graph } } subgraph { nodes { id } } degraded } }'
    response = await execute(datasources, query, tenant=tenant, settings=hurried)
    assert response.data["retrieve"]["degraded"] == ["GRAPH_TIMEOUT"]
    assert len(response.data["retrieve"]["hits"]) == 3
    assert response.codes() == ["GRAPH_TIMEOUT"]


async def test_repeated_operations_are_parsed_and_validated_once(datasources, tenant, monkeypatch):
    from ragweave.schema import documents

    calls: list[str] = []
    for name in ("parse", "validate_document"):
        real = getattr(documents, name)
        monkeypatch.setattr(documents, name, lambda *a, _r=real, _n=name, **k: calls.append(_n) or _r(*a, **k))
    query = f"{{ version whoami {{ tenant }} }} # {uuid.uuid4()}"  # a text the shared schema has not seen
    for _ in range(4):
        (await execute(datasources, query, tenant=tenant)).ok()
    assert calls == ["parse", "validate_document"]
