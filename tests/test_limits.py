"""Operation limits: cost budget, cost-weighted rate limits, depth/alias limits and stage deadlines."""

from __future__ import annotations

import uuid
from dataclasses import replace
from pathlib import Path

from graphql import parse

from ragweave.ratelimit import RateLimiter
from ragweave.resolvers.cost import COST_ARGUMENTS, _own_cost, _width, operation_cost
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
    aliases = "{ whoami { " + " ".join(f"a{i}: tenant" for i in range(40)) + " } }"
    assert (await execute(datasources, aliases, tenant=tenant)).codes() == ["GRAPHQL_VALIDATION_FAILED"]


async def test_root_field_count_limit_counts_fragments_spread_at_the_root(datasources, tenant):
    ten = "{ " + " ".join(f"v{i}: version" for i in range(10)) + " }"
    assert (await execute(datasources, ten, tenant=tenant)).ok()
    fields = " ".join(f"v{i}: version" for i in range(10))
    spread = f"query {{ ...More version }} fragment More on Query {{ {fields} }}"
    refused = await execute(datasources, spread, tenant=tenant)
    assert refused.codes() == ["GRAPHQL_VALIDATION_FAILED"] and "11 root fields" in refused.errors[0]["message"]


async def test_a_cancelled_graph_stage_leaves_the_request_loaders_usable(datasources, tenant):
    """Found by perf/soak.py (HTTP 500) when the stage deadline cancelled the expansion's DataLoader futures, which
    stay in the request's loader cache, so `chunk { entities }` of the same hits got a CancelledError."""
    await seed_corpus(datasources, tenant, size=6)
    hurried = replace(SETTINGS, graph_stage_share=1e-9)
    query = '{ retrieve(query: "plan", topK: 3) { hits { chunk { id entities { id } } } subgraph { nodes { id } } } }'
    response = await execute(datasources, query, tenant=tenant, settings=hurried)
    assert response.codes() == ["GRAPH_TIMEOUT"]
    hits = response.data["retrieve"]["hits"]
    assert len(hits) == 3 and any(h["chunk"]["entities"] for h in hits)


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


async def test_an_operation_costing_more_than_the_burst_needs_and_drains_a_full_bucket():
    limiter = RateLimiter(per_second=1, burst=10)
    assert await limiter.take("caller", 50) == 0.0
    assert 0.9 < await limiter.take("caller", 1) <= 1.0


async def test_the_cost_reads_variables_as_execution_does(datasources, tenant):
    """Defaults, omitted and invalid variables give the same cost as graphql-core's own coercion would, and a
    null where the argument needs a value is the caller's error, not the server's."""
    with_default = 'query($k: Int = 7) { search(query: "x", topK: $k) { score } }'
    assert cost(with_default) == cost(with_default, {"k": 7}) == 9 and cost(with_default, {"k": 4}) == 6
    plain = "query($q: String!, $k: Int!) { search(query: $q, topK: $k) { score } }"
    assert cost(plain, {"q": "x", "k": 3}) == 5 and cost(plain, {"q": "x", "k": 2.0}) == 4
    for invalid in ({"q": "x"}, {"q": "x", "k": "3"}, {"q": None, "k": 2}, {"q": "x", "k": 2**40}):
        assert cost(plain, invalid) == 0  # execution reports them
        response = await execute(datasources, plain, invalid, tenant=tenant)
        assert response.codes() == ["BAD_USER_INPUT"], response.errors
    response = await execute(datasources, with_default, {"k": None}, tenant=tenant)
    assert response.codes() == ["BAD_USER_INPUT"], response.errors


def test_a_cost_kept_for_the_variables_it_reads_equals_the_cost_computed_afresh():
    """The cost is kept per document by the values of the variables it reads (`topK`, not the query text) and
    by whether the others are missing or null, which can make it 0; each answer must equal a fresh computation."""
    document_text = """query($q: String, $k: Int!, $hops: Int!) {
      search(query: $q, topK: $k) { score }
      retrieve(query: "x", topK: 2, maxHops: $hops) { hits { score } } }"""
    document = parse(document_text)
    sequence = [
        {"q": "a", "k": 3, "hops": 1},
        {"q": "another query", "k": 3, "hops": 1},
        {"q": None, "k": 3, "hops": 1},
        {"k": 3, "hops": 1},
        {"q": "a", "k": 4, "hops": 2},
        {"q": "a", "k": 3, "hops": 1},
    ]
    answers = [operation_cost(schema()._schema, document, variables, None) for variables in sequence]
    assert answers == [cost(document_text, variables) for variables in sequence]
    assert answers[0] == answers[1] == answers[5] > 0 and answers[2] == answers[3] == 0 and answers[4] > answers[0]
    optional_text = 'query($k: Int) { search(query: "x", topK: $k) { score } }'
    optional = parse(optional_text)  # missing: the argument's default; null: invalid
    assert [operation_cost(schema()._schema, optional, v, None) for v in ({}, {"k": None}, {}, {"k": None})] == [
        cost(optional_text, v) for v in ({}, {"k": None}, {}, {"k": None})] == [7, 0, 7, 0]
    embed_text = "query($texts: [String!]!) { embed(texts: $texts) { dim } }"
    embed = parse(embed_text)  # a list read by the cost is not kept: computed each time
    assert [operation_cost(schema()._schema, embed, {"texts": t}, None) for t in (["a"], ["a", "b"], ["a"])] == [
        cost(embed_text, {"texts": t}) for t in (["a"], ["a", "b"], ["a"])] == [1, 2, 1]


def test_the_cost_reads_no_argument_outside_those_it_is_kept_by():
    """`COST_ARGUMENTS` must name every argument the cost function reads, or a kept cost would be reused for
    variables it does not fit."""

    class Recording(dict):
        def get(self, key, default=None):
            read.add(key)
            return default

        def __getitem__(self, key):
            read.add(key)
            raise KeyError(key)

    read: set[str] = set()
    for type_ in schema()._schema.type_map.values():
        for name in getattr(type_, "fields", None) or {}:
            _own_cost(name, Recording())
            _width(Recording())
    assert read and read <= COST_ARGUMENTS


def test_the_cost_of_variables_graphql_core_coerced_is_the_cost_of_the_raw_ones():
    """The query lane costs an operation from its executor's coerced variables (`coerced_operation_cost`): for
    every valid set of variables that is the cost `operation_cost` computes from the raw ones."""
    from ragweave.resolvers.cost import coerced_operation_cost
    from ragweave.schema.execution import Executor

    cases = [
        ('query($k: Int = 7) { search(query: "x", topK: $k) { score } }', [{}, {"k": 4}]),
        ("query($q: String!, $k: Int!) { search(query: $q, topK: $k) { score } }", [{"q": "x", "k": 3},
                                                                                     {"q": "x", "k": 2.0}]),
        ('query($k: Int) { search(query: "x", topK: $k) { score } }', [{}]),
        ("query($texts: [String!]!) { embed(texts: $texts) { dim } }", [{"texts": ["a", "b"]}, {"texts": "a"}]),
        (OPERATIONS, [{"q": "x", "k": 50}]),
    ]
    for text, variable_sets in cases:
        document = parse(text)
        for variables in variable_sets:
            name = "Deep" if text is OPERATIONS else None
            executor = Executor.build(schema()._schema, document, None, None, variables, name)
            assert not isinstance(executor, list), executor
            assert coerced_operation_cost(schema()._schema, document, executor.variable_values, name) == \
                operation_cost(schema()._schema, document, variables, name) > 0
