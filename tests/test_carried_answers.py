"""`retrieve` and `search` with their chunks' documents and entities run as direct runs whose resolvers answer
carriers (`ChunkAnswer`, `ragweave.schema.direct_root`): the same data, errors and backend calls as graphql-core's
path, with the graph up and with it down."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragweave.datasources.embeddings import LocalEmbedder
from ragweave.datasources.vectors_edge import EdgeVectorStore
from tests.graphql import Response, execute
from tests.test_execution import untimed
from tests.test_graph_faults import graph_of_its_own
from tests.test_query_api import demo  # noqa: F401  (the fixture)

CHUNK = "chunk { id text document { id title } entities { id name } }"
ROOTS = {  # the query as a direct run, and as graphql-core's path runs it (a second root field: no direct run)
    "retrieve": (f"query R($q: String!) {{ retrieve(query: $q, topK: 5) {{ hits {{ score {CHUNK} }} }} }}",
                 f"query R($q: String!) {{ __typename retrieve(query: $q, topK: 5) {{ hits {{ score {CHUNK} }} }} }}"),
    "search": (f"query S($q: String!) {{ search(query: $q, topK: 5) {{ score {CHUNK} }} }}",
               f"query S($q: String!) {{ __typename search(query: $q, topK: 5) {{ score {CHUNK} }} }}"),
}


@pytest.fixture
def carried(monkeypatch) -> list[int]:
    """How many carriers each request's resolver answered (0 where their entities failed to load)."""
    from ragweave.resolvers import retrieval, search  # after the schema: imported first, they start an import cycle

    seen: list[int] = []
    answers = retrieval.chunk_answers

    async def observed(*args):
        found = await answers(*args)
        seen.append(0 if found is None else len(found))
        return found

    for module in (retrieval, search):
        monkeypatch.setattr(module, "chunk_answers", observed)
    return seen


def _answer(response: Response, root: str) -> tuple[object, object, dict[str, int]]:
    data = None if response.data is None else untimed(response.data.get(root))
    errors = sorted((tuple(e["path"]), e["extensions"]["code"]) for e in response.errors)
    return data, errors, response.calls


@pytest.mark.parametrize("root", ROOTS)
async def test_the_direct_run_answers_and_calls_as_graphql_cores_path(datasources, demo, carried, root):  # noqa: F811
    direct_query, general_query = ROOTS[root]
    variables = {"q": "harbour dashboard"}
    general = await execute(datasources, general_query, variables, tenant=demo)
    assert carried == []
    for _ in range(2):  # the request that works the direct root out, and one that finds it kept
        direct = await execute(datasources, direct_query, variables, tenant=demo)
        assert _answer(direct, root) == _answer(general, root)
        hits = direct.ok()[root]
        assert (hits["hits"] if root == "retrieve" else hits)[0]["chunk"]["entities"]
    assert carried == [5, 5]


@pytest.mark.parametrize("root", ROOTS)
async def test_with_the_graph_down_the_entities_fail_as_on_graphql_cores_path_with_one_call_each(
    tmp_path: Path, edge_vectors: EdgeVectorStore, embedder: LocalEmbedder, tenant: str, carried, root
):
    direct_query, general_query = ROOTS[root]
    server, runner, ds = await graph_of_its_own(tmp_path, edge_vectors, embedder, tenant, "carried")
    try:
        variables = {"q": "Atlas team plan"}
        await execute(ds, direct_query, variables, tenant=tenant)  # the direct root worked out, the graph up
        await server.stop()
        general = await execute(ds, general_query, variables, tenant=tenant)
        direct = await execute(ds, direct_query, variables, tenant=tenant)
        assert _answer(direct, root) == _answer(general, root)
        _, errors, calls = _answer(direct, root)
        assert errors and {code for _, code in errors} == {"GRAPH_UNAVAILABLE"}
        assert calls.get("graph.entities_of_chunks") == 1, calls
        assert carried == [5, 0]  # the failure left the chunks as they were
    finally:
        await runner.close()
        await server.stop()


GRAPH_HITS = ("hits { score scores { vector graph fused } chunk { id document { title } entities { id } } "
              "citations { chunk { id text entities { name } } document { id } via { id name } } }")


async def test_with_the_graph_stage_and_citations_the_direct_run_answers_as_graphql_cores_path(
    datasources, demo, carried  # noqa: F811
):
    """The graph stage primes the chunks' entities from its mentions query; the citations share the hits' chunks,
    and get the same carriers."""
    direct_query = f"query R($q: String!) {{ retrieve(query: $q, topK: 5, maxHops: 2) {{ {GRAPH_HITS} }} }}"
    general_query = f"query R($q: String!) {{ __typename retrieve(query: $q, topK: 5, maxHops: 2) {{ {GRAPH_HITS} }} }}"
    variables = {"q": "Who leads the Platform Team?"}
    general = await execute(datasources, general_query, variables, tenant=demo)
    for _ in range(2):
        direct = await execute(datasources, direct_query, variables, tenant=demo)
        assert _answer(direct, "retrieve") == _answer(general, "retrieve")
        hits = direct.ok()["retrieve"]["hits"]
        assert hits[0]["citations"][0]["via"] and hits[0]["citations"][0]["chunk"]["entities"]
    assert carried == [5, 5]
