"""In-memory datasources with injected latency, for perf/ only.

Every backend call sleeps `asyncio.sleep(latency)` for its kind (vectors, graph, embed; 0 still yields once),
is counted in `CALLS` (per process) and in ragweave's per-operation `backendCalls` (same names as the real
adapters). The corpus is deterministic: 100 documents x 10 chunks of ~800 characters (the default chunk size),
300 entities, each chunk mentioning 3 of them, each entity related to 2 others.
"""

from __future__ import annotations

import asyncio
import functools
import random
import time
import zlib
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

from ragweave import records
from ragweave.datasources.calls import counted
from ragweave.datasources.graph import Mention
from ragweave.datasources.lifecycle import Datasources, _open_llm
from ragweave.datasources.reranker import LexicalReranker
from ragweave.settings import Settings

DOCS, CHUNKS_PER_DOC, ENTITIES, DIM = 100, 10, 300, 384
TEAMS = ["Atlas", "Beacon", "Comet", "Delta", "Ember"]
WORDS = ("plan launch team review budget memo risk design roadmap metric customer release quality "
         "hiring platform incident report goal vendor contract").split()
CALLS: Counter[str] = Counter()
SLEPT = {"requested_s": 0.0, "actual_s": 0.0}
WAITS: list[tuple[float, float]] | None = None  # a list to fill: each injected wait's perf_counter start and end


@dataclass(frozen=True, slots=True)
class Latency:
    vectors: float = 0.0
    graph: float = 0.0
    embed: float = 0.0


def _call(name: str, kind: str):
    def decorate(method):
        @counted(name)
        @functools.wraps(method)
        async def wrapper(self, *args, **kwargs):
            CALLS[name] += 1
            delay = getattr(self.latency, kind)
            started = time.perf_counter()
            await asyncio.sleep(delay)
            ended = time.perf_counter()
            SLEPT["requested_s"] += delay
            SLEPT["actual_s"] += ended - started
            if WAITS is not None and delay:
                WAITS.append((started, ended))
            return method(self, *args, **kwargs)

        return wrapper

    return decorate


class Corpus:
    def __init__(self) -> None:
        rng = random.Random(42)
        self.chunks: dict[str, records.Chunk] = {}
        for d in range(DOCS):
            for i in range(CHUNKS_PER_DOC):
                text = " ".join(rng.choice(WORDS) for _ in range(200))[:800]
                chunk = records.Chunk(f"doc-{d:03d}#{i}", f"doc-{d:03d}", i, text, i * 680, i * 680 + 800,
                                      document_title=f"Document {d}")
                self.chunks[chunk.id] = chunk
        self.order = list(self.chunks)
        names = [f"{t} team" for t in TEAMS] + [f"Person {e}" for e in range(len(TEAMS), ENTITIES)]
        self.entities = {f"ent-{e:03d}": records.Entity(f"ent-{e:03d}", n, "Team" if e < len(TEAMS) else "Person")
                         for e, n in enumerate(names)}
        self.by_name = {e.name.lower(): e for e in self.entities.values()}
        self.of_chunk: dict[str, list[records.Entity]] = {}
        self.mentions: dict[str, list[str]] = defaultdict(list)
        for c, cid in enumerate(self.order):
            found = {self._ent(c % ENTITIES), self._ent((c * 7 + 3) % ENTITIES), self._ent((c * 13 + 5) % ENTITIES)}
            self.of_chunk[cid] = sorted((self.entities[e] for e in found), key=lambda e: (e.name, e.id))
            for e in found:
                self.mentions[e].append(cid)
        self.mention_records = {
            e: [Mention(c, self.chunks[c].document_id, self.chunks[c].index)
                for c in sorted(cs, key=lambda c: (self.chunks[c].document_id, self.chunks[c].index))]
            for e, cs in self.mentions.items()
        }
        self.documents = {c.document_id: records.Document(c.document_id, c.document_title)
                          for c in self.chunks.values() if c.index == 0}
        self.relations: dict[str, list[records.Relation]] = defaultdict(list)
        for e in range(ENTITIES):
            for other, kind in (((e + 1) % ENTITIES, "WORKS_WITH"), ((e * 5 + 2) % ENTITIES, "KNOWS")):
                if other != e:
                    rel = records.Relation(self._ent(e), self._ent(other), kind)
                    self.relations[rel.source_id].append(rel)
                    self.relations[rel.target_id].append(rel)
        self.reach = {eid: self._bfs(eid) for eid in self.entities}

    @staticmethod
    def _ent(e: int) -> str:
        return f"ent-{e:03d}"

    def _bfs(self, start: str) -> list[records.ReachedEntity]:
        hops, frontier = {start: 0}, [start]
        for depth in (1, 2, 3):
            nxt = []
            for eid in frontier:
                for r in self.relations[eid]:
                    other = r.target_id if r.source_id == eid else r.source_id
                    if other not in hops:
                        hops[other] = depth
                        nxt.append(other)
            frontier = nxt
        found = [records.ReachedEntity(self.entities[e], h) for e, h in hops.items() if e != start]
        return sorted(found, key=lambda r: (r.hops, r.entity.name, r.entity.id))


CORPUS = Corpus()


class FakeEmbedder:
    model, dim = "fake-embedder", DIM

    def __init__(self, latency: Latency) -> None:
        self.latency = latency
        self._cache: dict[str, list[float]] = {}

    def vector(self, text: str) -> list[float]:
        if text not in self._cache:
            rng = random.Random(zlib.crc32(text.encode()))
            self._cache[text] = [rng.uniform(-1, 1) for _ in range(DIM)]
        return self._cache[text]

    @_call("llm.embed", "embed")
    def embed_many(self, texts: Sequence[str]) -> list[list[float]]:
        return [self.vector(t) for t in texts]


class FakeVectors:
    name = "fake-vectors"

    def __init__(self, latency: Latency) -> None:
        self.latency = latency

    @_call("vectors.query_many", "vectors")
    def query_many(self, tenant, collection, queries) -> list[list[records.ScoredChunk]]:
        out = []
        for q in queries:
            start, order = int((q.vector[0] + 1) * 1e6), CORPUS.order
            allowed = q.filter.document_ids if q.filter and q.filter.document_ids is not None else None
            picked: list[str] = []
            for i in range(len(order)):  # a fixed stride through the corpus, starting where the vector points
                chunk_id = order[(start + 7 * i) % len(order)]
                if allowed is None or CORPUS.chunks[chunk_id].document_id in allowed:
                    picked.append(chunk_id)
                    if len(picked) == q.limit:
                        break
            out.append([records.ScoredChunk(CORPUS.chunks[c], 0.9 - 0.001 * i) for i, c in enumerate(picked)])
        return out

    @_call("vectors.chunks_by_ids", "vectors")
    def chunks_by_ids(self, tenant, collection, ids) -> list[records.Chunk | None]:
        return [CORPUS.chunks.get(i) for i in ids]

    @_call("vectors.documents_by_ids", "vectors")
    def documents_by_ids(self, tenant, collection, ids) -> list[records.Document | None]:
        return [CORPUS.documents.get(i) for i in ids]

    @_call("vectors.chunks_of_documents", "vectors")
    def chunks_of_documents(self, tenant, collection, document_ids, first) -> list[list[records.Chunk]]:
        return [[CORPUS.chunks[f"{d}#{i}"] for i in range(min(first, CHUNKS_PER_DOC)) if f"{d}#{i}" in CORPUS.chunks]
                for d in document_ids]

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        return None


class FakeGraph:
    dialect = "fake-graph"

    def __init__(self, latency: Latency) -> None:
        self.latency = latency

    @_call("graph.entities_by_ids", "graph")
    def entities_by_ids(self, tenant, ids) -> list[records.Entity | None]:
        return [CORPUS.entities.get(i) for i in ids]

    @_call("graph.entities_by_names", "graph")
    def entities_by_names(self, tenant, names) -> list[records.Entity]:
        return list({e.id: e for n in names if (e := CORPUS.by_name.get(n))}.values())

    @_call("graph.entities_of_chunks", "graph")
    def entities_of_chunks(self, tenant, collection, chunk_ids) -> list[list[records.Entity]]:
        return [list(CORPUS.of_chunk.get(c, ())) for c in chunk_ids]

    @_call("graph.neighbors", "graph")
    def neighbors(self, tenant, ids, hops) -> list[list[records.ReachedEntity]]:
        return [[r for r in CORPUS.reach.get(i, ()) if r.hops <= hops] for i in ids]

    @_call("graph.reach", "graph")
    def reach(self, tenant, seeds, hops) -> list[records.ReachedEntity]:
        excluded, nearest = set(seeds), {}
        for seed in seeds:
            for r in CORPUS.reach.get(seed, ()):
                known = nearest.get(r.entity.id)
                if r.hops <= hops and r.entity.id not in excluded and (known is None or r.hops < known.hops):
                    nearest[r.entity.id] = r
        return sorted(nearest.values(), key=lambda r: (r.hops, r.entity.id))

    @_call("graph.relations", "graph")
    def relations(self, tenant, ids) -> list[list[records.Relation]]:
        return [list(CORPUS.relations.get(i, ())) for i in ids]

    @_call("graph.mentions", "graph")
    def mentions(self, tenant, collection, ids) -> list[list[Mention]]:
        return [list(CORPUS.mention_records.get(i, ())) for i in ids]

    @_call("graph.mentions_with_chunk_entities", "graph")
    def mentions_with_chunk_entities(
        self, tenant, collection, ids
    ) -> tuple[list[list[Mention]], dict[str, list[records.Entity]]]:
        mentions = [list(CORPUS.mention_records.get(i, ())) for i in ids]
        return mentions, {m.chunk_id: list(CORPUS.of_chunk[m.chunk_id]) for found in mentions for m in found}

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        return None


def fake_datasources(latency: Latency, chat=None) -> Datasources:
    return Datasources(
        vectors=FakeVectors(latency), graph=FakeGraph(latency), embedder=FakeEmbedder(latency),  # type: ignore[arg-type]
        chat=chat, reranker=LexicalReranker(),
        names={"vectors": "fake", "graph": "fake", "llm": "fake", "reranker": "bm25"},
    )


def open_fakes(latency: Latency):
    """An `open_ds` for `create_app`. With an LLM endpoint configured (OPENAI_BASE_URL), chat is ragweave's own
    provider chain built by `lifecycle._open_llm` (bounded concurrency, breaker, hedging); the rest stays fake."""

    @asynccontextmanager
    async def open_ds(settings: Settings | None) -> AsyncIterator[Datasources]:
        async with AsyncExitStack() as stack:
            chat = None
            if settings is not None and settings.provider_configs():
                _, chat, _ = await _open_llm(settings, stack)
            yield fake_datasources(latency, chat)

    return open_ds
