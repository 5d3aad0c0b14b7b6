"""The per-request DataLoader set. Each loader batches every key of one tick into one backend call.

Loaders are built for one request (or one subscription) and one tenant; the tenant is bound here, so a key
can never resolve another tenant's data and nothing is cached across requests.
"""

from __future__ import annotations

from asyncio import AbstractEventLoop, Future, get_running_loop, sleep
from collections import defaultdict
from collections.abc import Awaitable, Callable, Hashable, Iterable, Sequence
from typing import Any, NamedTuple, TypeVar

import aiodataloader
from aiodataloader import DataLoader, Loader, failed_dispatch

from ragweave import records
from ragweave.datasources.graph import Mention
from ragweave.datasources.lifecycle import Datasources
from ragweave.datasources.vectors import ChunkFilter, VectorQuery
from ragweave.observability.metrics import observe_batch

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class SearchKey(NamedTuple):
    """A search loader's key: a tuple, so that building and hashing it (several times per request: the loader's
    cache, the batch's tables) run in C, where a frozen dataclass runs both in Python."""

    collection: str
    text: str
    limit: int
    filter: ChunkFilter | None = None


async def _by_group(
    keys: Sequence[K], group: Callable[[K], Hashable], fetch: Callable[[Any, list[K]], Awaitable[list[V]]]
) -> list[V]:
    """Split keys by `group` (e.g. collection), fetch each group in one call, and realign with the keys."""
    groups: dict[Hashable, list[K]] = defaultdict(list)
    for key in keys:
        groups[group(key)].append(key)
    found: dict[K, V] = {}
    for name, members in groups.items():
        found.update(zip(members, await fetch(name, members), strict=True))
    return [found[k] for k in keys]


class _BatchLoader(DataLoader):
    """aiodataloader's DataLoader with default options, built without its constructor's checks: that constructor
    inspects the batch function (`inspect.iscoroutinefunction`, unwrapping partials) every time, and a request
    builds several loaders. The batch functions here are coroutine functions by construction. With a `name`, each
    batch's size goes to the `ragweave_dataloader_batch_size{loader=name}` histogram."""

    def __init__(self, batch_load_fn: Callable[[list[Any]], Awaitable[list[Any]]],
                 loop: AbstractEventLoop | None = None, name: str | None = None) -> None:
        self.loop = loop or get_running_loop()
        self.batch_load_fn = batch_load_fn
        self._cache = {}
        self._queue = []
        self.name = name

    @staticmethod
    def get_cache_key(key: Any) -> Any:
        return key

    def load(self, key: Any) -> Future[Any]:
        """DataLoader's, for these options (cached; a key is its own cache key), in one method where DataLoader's
        calls two more per key. It also dispatches differently: DataLoader's runs each batch two loop iterations
        after its first key through two Tasks (one to dispatch, one to run the batch); the same two iterations pass
        here through a plain callback, so the same keys join each batch, and the batch runs in the one Task it
        needs."""
        if key is None:
            raise TypeError(f"The loader.load() function must be called with a value, but got: {key}.")
        future = self._cache.get(key)
        if future is None:
            future = self._cache[key] = self.loop.create_future()
            self._queue.append(Loader(key=key, future=future))
            if len(self._queue) == 1:
                self.loop.call_soon(self._dispatch, 1)
        return future

    def _dispatch(self, iterations_to_wait: int) -> None:
        if iterations_to_wait:
            self.loop.call_soon(self._dispatch, iterations_to_wait - 1)
        elif self._queue:  # else `dispatch_now` took the keys
            self.dispatch_now()

    def dispatch_now(self) -> None:
        """The keys queued so far go in a batch whose Task is created now, not two loop iterations after the first
        of them."""
        queue, self._queue = self._queue, []
        self.loop.create_task(_run_batch(self, queue))

    async def run_now(self, keys: Iterable[Any]) -> list[Any]:
        """The keys' values; the batch of the keys not asked for before runs at once, in the caller's Task. For a
        loader whose keys all arrive in one call (see `loaded_now`)."""
        cache, queue, futures = self._cache, [], []
        for key in keys:
            future = cache.get(key)
            if future is None:
                future = cache[key] = self.loop.create_future()
                queue.append(Loader(key=key, future=future))
            futures.append(future)
        if queue:
            try:
                await _run_batch(self, queue)
            except BaseException:  # cancelled: as a failure does, the keys leave the cache (a later load fetches them)
                for item in queue:
                    self.clear(item.key)
                    item.future.cancel()
                raise
        return await in_order(futures)

    def load_many(self, keys: Iterable[Any]) -> Awaitable[list[Any]]:
        """DataLoader's gathers the loads, which wakes the caller one loop iteration after the last one is answered
        (gather's callback, then the caller). Here the caller awaits them in order: all are already queued, so
        they share the same batches. The first failure in key order propagates."""
        return in_order([self.load(key) for key in keys])


async def _run_batch(loader: _BatchLoader, queue: list[Loader]) -> None:
    """aiodataloader's `dispatch_queue_batch` for a batch function that is a coroutine function returning a list
    (each one here), without its checks of what the function returned, one of them an `isinstance` against
    `typing.Iterable` (several Python-level calls). A list of another length, or a failure, fails every key."""
    keys = [item.key for item in queue]
    if loader.name is not None:
        observe_batch(loader.name, len(keys))
    try:
        values = await loader.batch_load_fn(keys)
        if len(values) != len(keys):
            raise TypeError(f"a batch of {len(keys)} keys answered {len(values)} values")
        for item, value in zip(queue, values, strict=True):
            if not item.future.done():
                if isinstance(value, Exception):
                    item.future.set_exception(value)
                else:
                    item.future.set_result(value)
    except Exception as error:
        failed_dispatch(loader, queue, error)


async def in_order(loads: list[Future[Any]]) -> list[Any]:
    try:
        return [await load for load in loads]
    except BaseException:
        for load in loads:  # as gather does: the other failures are retrieved, not logged as never retrieved
            load.add_done_callback(_retrieve)
        raise


def _retrieve(load: Future[Any]) -> None:
    if not load.cancelled():
        load.exception()


async def loaded_now(loader: DataLoader, keys: list[Any]) -> list[Any]:
    """The keys' values, for a loader asked only from another loader's batch function, whose keys all arrive in
    that one call: the embeddings of a search batch's texts. Nothing else joins that batch, so it runs at once in
    the caller's Task (`_BatchLoader.run_now`) instead of waiting two loop iterations for more keys and then a
    third for a Task of its own."""
    run_now = getattr(loader, "run_now", None)  # perf's unbatched loaders have none
    return await (loader.load_many(keys) if run_now is None else run_now(keys))


async def start_batch(loader: DataLoader, keys: Iterable[Any]) -> None:
    """Sends the batch for `keys` before the caller goes on, for keys known ahead of the resolvers that will ask for
    them (they find the same futures, cached): e.g. the hits' chunk ids, when the selection asks for the chunks'
    entities, go to the graph while the hits are still being built and completed, not after."""
    cached = loader._cache
    started = [loader.load(key) for key in keys if key not in cached]
    if not started:
        return
    for future in started:  # awaited later, or never if the request fails first
        future.add_done_callback(_retrieve)
    dispatch_now = getattr(loader, "dispatch_now", None)  # an unbatched loader (perf's noloaders) has dispatched
    if dispatch_now is not None:
        dispatch_now()
    await sleep(0)  # the batch's Task takes its first step, which sends the query


class _built_on_first_use:
    """`functools.cached_property` without its lock: Python 3.11 takes an RLock on each first access (several per
    request here); a request's loaders are only used from its event loop's thread."""

    def __init__(self, build: Callable[[Any], Any]) -> None:
        self.build = build
        self.name = build.__name__

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self
        value = instance.__dict__[self.name] = self.build(instance)
        return value


class Loaders:
    """Each loader is built on first use: most operations touch one or two of them."""

    def __init__(self, ds: Datasources, tenant: str) -> None:
        self.ds = ds
        self.tenant = tenant
        self._known_entities: dict[str, records.Entity] = {}  # answered elsewhere, before `entity` was built

    def close(self) -> None:
        """Drop every loader and its cache. Each loader's batch function refers back to this object, so without
        this a finished request's answers stay in memory until a full garbage collection finds the cycle."""
        for name in [name for name, value in vars(self).items() if isinstance(value, aiodataloader.DataLoader)]:
            vars(self).pop(name).clear_all()
        self._known_entities.clear()

    @_built_on_first_use
    def loop(self) -> AbstractEventLoop:
        """The running loop, asked once: each `get_running_loop()` is a `getpid` system call on Python 3.11."""
        return get_running_loop()

    @_built_on_first_use
    def embedding(self) -> DataLoader:
        return _BatchLoader(self._embed, self.loop, "embedding")

    @_built_on_first_use
    def search(self) -> DataLoader:
        return _BatchLoader(self._search, self.loop, "search")

    @_built_on_first_use
    def chunk(self) -> DataLoader:
        return _BatchLoader(self._chunks, self.loop, "chunk")

    @_built_on_first_use
    def document(self) -> DataLoader:
        return _BatchLoader(self._documents, self.loop, "document")

    @_built_on_first_use
    def document_chunks(self) -> DataLoader:
        return _BatchLoader(self._document_chunks, self.loop, "document_chunks")

    @_built_on_first_use
    def chunk_entities(self) -> DataLoader:
        return _BatchLoader(self._chunk_entities, self.loop, "chunk_entities")

    @_built_on_first_use
    def entity(self) -> DataLoader:
        loader = _BatchLoader(self._entities, self.loop, "entity")
        for entity in self._known_entities.values():
            loader.prime(entity.id, entity)
        self._known_entities.clear()
        return loader

    @_built_on_first_use
    def neighbors(self) -> DataLoader:
        return _BatchLoader(self._neighbors, self.loop, "neighbors")

    @_built_on_first_use
    def relations(self) -> DataLoader:
        return _BatchLoader(self._relations, self.loop, "relations")

    @_built_on_first_use
    def mentions(self) -> DataLoader:
        return _BatchLoader(self._mentions, self.loop, "mentions")

    async def _embed(self, texts: list[str]) -> list[list[float]]:
        return await self.ds.embedder.embed_many(texts)

    async def _search(self, keys: list[SearchKey]) -> list[list[records.ScoredChunk]]:
        vectors = await loaded_now(self.embedding, [k.text for k in keys])
        queries = {k: VectorQuery(tuple(v), k.limit, k.filter) for k, v in zip(keys, vectors, strict=True)}

        async def fetch(collection: str, members: list[SearchKey]) -> list[list[records.ScoredChunk]]:
            return await self.ds.vectors.query_many(self.tenant, collection, [queries[k] for k in members])

        return await _by_group(keys, lambda k: k.collection, fetch)

    async def _chunks(self, keys: list[tuple[str, str]]) -> list[records.Chunk | None]:
        async def fetch(collection: str, members: list[tuple[str, str]]) -> list[records.Chunk | None]:
            return await self.ds.vectors.chunks_by_ids(self.tenant, collection, [m[1] for m in members])

        return await _by_group(keys, lambda k: k[0], fetch)

    async def _documents(self, keys: list[tuple[str, str]]) -> list[records.Document | None]:
        async def fetch(collection: str, members: list[tuple[str, str]]) -> list[records.Document | None]:
            return await self.ds.vectors.documents_by_ids(self.tenant, collection, [m[1] for m in members])

        return await _by_group(keys, lambda k: k[0], fetch)

    async def _document_chunks(self, keys: list[tuple[str, str, int]]) -> list[list[records.Chunk]]:
        async def fetch(group: tuple[str, int], members: list[tuple[str, str, int]]) -> list[list[records.Chunk]]:
            collection, first = group
            return await self.ds.vectors.chunks_of_documents(self.tenant, collection, [m[1] for m in members], first)

        return await _by_group(keys, lambda k: (k[0], k[2]), fetch)

    async def _chunk_entities(self, keys: list[tuple[str, str]]) -> list[list[records.Entity]]:
        async def fetch(collection: str, members: list[tuple[str, str]]) -> list[list[records.Entity]]:
            return await self.ds.graph.entities_of_chunks(self.tenant, collection, [m[1] for m in members])

        found = await _by_group(keys, lambda k: k[0], fetch)
        self._prime_entities(e for entities in found for e in entities)
        return found

    async def _entities(self, ids: list[str]) -> list[records.Entity | None]:
        return await self.ds.graph.entities_by_ids(self.tenant, ids)

    async def _neighbors(self, keys: list[tuple[str, int]]) -> list[list[records.ReachedEntity]]:
        """One query at the largest hop count asked for; smaller hop counts are a prefix of its answer."""
        ids = list(dict.fromkeys(k[0] for k in keys))
        reached = dict(zip(ids, await self.ds.graph.neighbors(self.tenant, ids, max(k[1] for k in keys)), strict=True))
        self._prime_entities(r.entity for found in reached.values() for r in found)
        return [[r for r in reached[entity_id] if r.hops <= hops] for entity_id, hops in keys]

    async def _relations(self, ids: list[str]) -> list[list[records.Relation]]:
        return await self.ds.graph.relations(self.tenant, ids)

    async def _mentions(self, keys: list[tuple[str, str]]) -> list[list[Mention]]:
        async def fetch(collection: str, members: list[tuple[str, str]]) -> list[list[Mention]]:
            return await self.ds.graph.mentions(self.tenant, collection, [m[1] for m in members])

        return await _by_group(keys, lambda k: k[0], fetch)

    async def mentions_with_chunk_entities(
        self, collection: str, entity_ids: list[str]
    ) -> tuple[list[list[Mention]], dict[str, list[records.Entity]]]:
        """The `mentions` of each entity (kept in that loader), and the entities of every chunk they name, from one
        backend call. The chunks' entities are returned, not cached: the caller primes the few it will use."""
        if not entity_ids:
            return [], {}
        mentions, chunk_entities = await self.ds.graph.mentions_with_chunk_entities(self.tenant, collection, entity_ids)
        loader = self.mentions
        for entity_id, found in zip(entity_ids, mentions, strict=True):
            loader.prime((collection, entity_id), found)
        return mentions, chunk_entities

    def prime_chunk_entities(self, collection: str, found: dict[str, list[records.Entity]]) -> None:
        loader = self.chunk_entities
        for chunk_id, entities in found.items():
            loader.prime((collection, chunk_id), entities)
        self._prime_entities(e for entities in found.values() for e in entities)

    def _prime_entities(self, entities) -> None:
        """Entities other loaders answered need no `entity` lookup. Most operations never build that loader,
        so they are kept aside until it is built."""
        loader = vars(self).get("entity")
        for entity in entities:
            if loader is None:
                self._known_entities.setdefault(entity.id, entity)
            else:
                loader.prime(entity.id, entity)
