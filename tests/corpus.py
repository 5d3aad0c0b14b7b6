"""A synthetic corpus written straight through the datasources (no extraction), for budget and fault tests."""

from __future__ import annotations

from ragweave import records
from ragweave.datasources.lifecycle import Datasources
from ragweave.datasources.vectors import ChunkPoint

TEAMS = ["Atlas", "Beacon", "Comet", "Delta", "Ember"]


async def seed_corpus(ds: Datasources, tenant: str, size: int = 60) -> None:
    """`size` one-chunk documents; chunk k mentions person k, who works with person k+1 and in a team."""
    chunks = [
        records.Chunk(
            id=f"doc-{k}#0",
            document_id=f"doc-{k}",
            index=0,
            document_title=f"Memo {k}",
            text=f"Memo {k}: Person {k} of the {TEAMS[k % 5]} team reviewed the plan with Person {k + 1}.",
        )
        for k in range(size)
    ]
    vectors = await ds.embedder.embed_many([c.text for c in chunks])
    await ds.vectors.upsert(tenant, "chunks", [ChunkPoint(c, v, "h") for c, v in zip(chunks, vectors, strict=True)])
    for c in chunks:
        await ds.graph.replace_document(tenant, "chunks", c.document_id, c.document_title, [c])
    people = [records.GraphNode(f"person:{k}", "Person", f"Person {k}") for k in range(size + 1)]
    teams = [records.GraphNode(f"team:{t.lower()}", "Team", f"{t} team") for t in TEAMS]
    edges = [records.GraphEdge(f"person:{k}", f"person:{k + 1}", "WORKS_WITH") for k in range(size)]
    edges += [records.GraphEdge(f"person:{k}", f"team:{TEAMS[k % 5].lower()}", "MEMBER_OF") for k in range(size)]
    mentions = [(f"person:{k}", "chunks", f"doc-{k}#0") for k in range(size)]
    mentions += [(f"team:{TEAMS[k % 5].lower()}", "chunks", f"doc-{k}#0") for k in range(size)]
    await ds.graph.upsert(tenant, people + teams, edges, mentions)
