"""Load the demo corpus (and its hand-checked graph) into the datasources; safe to run on every start."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from ragweave import records
from ragweave.datasources.lifecycle import Datasources
from ragweave.resolvers import graph_input
from ragweave.resolvers.extraction import extractor_for
from ragweave.resolvers.ingest import Ingestor, Report, SourceDocument
from ragweave.settings import Settings

CORPUS = Path(str(resources.files("ragweave.demo") / "corpus"))
GRAPH = Path(str(resources.files("ragweave.demo") / "graph.json"))


def read_folder(root: Path) -> list[SourceDocument]:
    """`.md` and `.txt` files below `root`; a document's id is its path relative to the root."""
    documents = []
    for path in sorted(p for p in root.rglob("*") if p.suffix in {".md", ".txt"} and p.is_file()):
        text = path.read_text(encoding="utf-8")
        first = text.lstrip().splitlines()[0] if text.strip() else ""
        title = first.lstrip("# ").strip() if first.startswith("#") else path.stem
        documents.append(SourceDocument(id=path.relative_to(root).as_posix(), text=text, title=title))
    return documents


def read_graph() -> dict:
    return json.loads(GRAPH.read_text(encoding="utf-8"))


async def load_demo(ds: Datasources, settings: Settings) -> Report:
    documents = read_folder(CORPUS)
    ingestor = Ingestor(ds, settings.tenant, settings.default_collection, extractor_for(ds),
                        settings.chunk_size, settings.chunk_overlap)
    report = await ingestor.run(documents)
    await load_demo_graph(ds, settings, documents)
    return report


async def load_demo_graph(ds: Datasources, settings: Settings, documents: list[SourceDocument]) -> None:
    """The hand-checked graph: each entity is linked to the chunks of its documents that name it."""
    data = read_graph()
    by_stem = {Path(d.id).stem: d.id for d in documents}
    collection = settings.default_collection
    chunks_of = await ds.vectors.chunks_of_documents(settings.tenant, collection, list(by_stem.values()), 200)
    chunks_by_doc = dict(zip(by_stem.values(), chunks_of, strict=True))
    nodes = []
    for node in data["nodes"]:
        mentions = tuple(
            chunk.id
            for stem in node.get("mentions", [])
            if stem in by_stem
            for chunk in chunks_by_doc[by_stem[stem]]
            if node["name"].lower() in chunk.text.lower()
        )
        nodes.append(records.GraphNode(node["id"], node["type"], node["name"], node.get("properties"), mentions))
    edges = [records.GraphEdge(e["source"], e["target"], e["type"], e.get("properties")) for e in data["edges"]]
    nodes, edges = graph_input.checked_graph(nodes, edges)
    mentions = [(n.id, collection, m) for n in nodes for m in n.mentions]
    await ds.graph.upsert(settings.tenant, nodes, edges, mentions)
