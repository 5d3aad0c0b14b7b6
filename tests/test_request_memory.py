"""A finished operation leaves nothing for the cyclic garbage collector: its DataLoaders, their cached answers,
the executor and the context are freed by reference counting as soon as the answer is built.

Before this, every request left its whole answer (records, graph rows, loader futures) in reference cycles; with
the server's GC thresholds that garbage piled up to ~90 MB between full collections in the soak, and the heap
kept the high-water mark.
"""

from __future__ import annotations

import gc
from collections import Counter

from ragweave.datasources.lifecycle import Datasources
from tests.corpus import seed_corpus
from tests.graphql import execute

# The neo4j driver leaves cycles of its own (results, summaries, transactions): not ours to fix, so the check
# looks at the request's own objects: ragweave's records, context and loaders, the executor, futures.
OURS = {"ragweave", "graphql", "strawberry", "aiodataloader", "_asyncio", "asyncio"}
OPERATIONS = [
    ("""query ($q: String!) { retrieve(query: $q, topK: 5, maxHops: 2) {
          hits { chunk { id text document { title } entities { name neighbors(hops: 1) { name } } }
                 citations { via { id } } scores { vector graph fused } }
          subgraph { nodes { id } edges { type } } degraded } }""", {"q": "Atlas team plan"}),
    ("""query ($q: String!) { search(query: $q, topK: 3) { score chunk { id document { id chunks { id } } } } }""",
     {"q": "who leads the team"}),
    ("""query { entities(first: 5) {
          edges { node { name mentions { id } relations { type target { name } } } } } }""", None),
    ("""query { chunk(id: "no-such-chunk") { id } }""", None),  # an error path too
]


async def test_finished_operations_leave_no_cyclic_garbage(datasources: Datasources, tenant: str):
    await seed_corpus(datasources, tenant, size=12)
    for query, variables in OPERATIONS:  # warm every lazy path up first
        await execute(datasources, query, variables, tenant=tenant)
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        for _ in range(3):
            for query, variables in OPERATIONS:
                response = await execute(datasources, query, variables, tenant=tenant)
                assert response.data is not None
        gc.collect()
        leftovers = Counter(f"{type(o).__module__}.{type(o).__qualname__}" for o in gc.garbage
                            if type(o).__module__.split(".")[0] in OURS)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert not leftovers, leftovers.most_common(15)
