"""Open qdrant-edge shards by collection directory, and what to do when a directory goes away under one.

Seen with qdrant-edge 0.9 (tests/test_vector_faults.py): an open shard keeps answering from its open files after
its directory is deleted or moved away, and accepts writes that land in files nobody will read again. It also
writes by path, so closing, or merely dropping, a stale shard once a copy has been restored at its path overwrites
that copy (the copy still counts its points but search finds none). Hence:
- every use checks that the directory is still the one opened (device and inode);
- a stale shard is closed only while nothing is at its path (a restored directory is moved aside meanwhile);
- the collection is VECTORS_UNAVAILABLE until a directory with data is back at its path, which is then opened
  afresh; a collection that was never opened here is simply absent.
`intact` is one stat of a local directory; the other methods do file work: call them from a worker thread, under
the store's open lock.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path

import qdrant_edge as qe

from ragweave.errors import BackendUnavailable


class ShardRegistry:
    def __init__(self, root: Path, open_shard: Callable[[Path], qe.EdgeShard]) -> None:
        self.root = root
        self.open_shard = open_shard
        self.shards: dict[str, qe.EdgeShard] = {}
        self._opened_as: dict[str, tuple[int, int]] = {}
        self._lost: set[str] = set()

    def known(self) -> list[str]:
        return [*self.shards, *self._lost]

    def intact(self, collection: str) -> bool:
        try:
            found = os.stat(self.root / collection)
        except OSError:
            return False
        return (found.st_dev, found.st_ino) == self._opened_as.get(collection)

    def resolve(self, collection: str, create: bool) -> qe.EdgeShard | None:
        """The open shard; a restored directory opened afresh; None for a collection that does not exist."""
        path = self.root / collection
        if collection in self.shards:
            if self.intact(collection):
                return self.shards[collection]
            self._discard(collection)
            self._lost.add(collection)
        if collection in self._lost:
            if not path.is_dir() or not any(path.iterdir()):
                raise BackendUnavailable("vectors", f"the storage of collection {collection!r} is gone")
        elif not path.exists() and not create:
            return None
        shard = self.open_shard(path)
        found = path.stat()
        self.shards[collection], self._opened_as[collection] = shard, (found.st_dev, found.st_ino)
        self._lost.discard(collection)
        return shard

    def close(self, collection: str) -> None:
        self._lost.discard(collection)
        if collection not in self.shards:
            return
        if not self.intact(collection):
            self._discard(collection)
            return
        shard = self.shards.pop(collection)
        self._opened_as.pop(collection, None)
        shard.flush()
        shard.close()

    def _discard(self, collection: str) -> None:
        """Close a stale shard so that its last writes find no directory at its path."""
        shard = self.shards.pop(collection)
        self._opened_as.pop(collection, None)
        path = self.root / collection
        aside = path.with_name(f".{collection}.reopening")
        moved = path.is_dir()
        if moved:
            os.rename(path, aside)
        try:
            with contextlib.suppress(Exception):  # its files are gone: nothing it could flush is wanted
                shard.close()
        finally:
            if moved:
                os.rename(aside, path)
