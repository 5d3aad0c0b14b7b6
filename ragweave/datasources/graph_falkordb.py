"""FalkorDB dialect: the native `falkordb` async client over the Redis protocol (never Bolt).

Dialect differences kept here: index DDL without names or IF NOT EXISTS, no multi-statement transactions
(our write steps are idempotent MERGEs, so a retried ingest converges), read-only user queries through
GRAPH.RO_QUERY, and error mapping from redis exceptions.
The client sends parameters as a quoted `CYPHER k=v ...` text header that the server reads as a C string:
a NUL character would cut the statement short, and a backtick cannot be escaped in a key, so both are refused
as BAD_USER_INPUT before anything is sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, LiteralString

import redis.asyncio as aioredis
from falkordb.asyncio import FalkorDB
from falkordb.edge import Edge
from falkordb.node import Node
from falkordb.path import Path
from redis import exceptions as redis_errors

from ragweave.datasources import cypher
from ragweave.datasources.graph import Rows
from ragweave.deadline import capped
from ragweave.errors import BackendTimeout, BackendUnavailable, BadUserInput


class FalkorRunner:
    dialect = "falkordb"

    def __init__(self, host: str, port: int, graph_name: str, timeout_s: float, max_connections: int = 32) -> None:
        self.timeout_ms = int(timeout_s * 1000)
        # Pooled sockets go stale when the server restarts, and each would fail one call: redis-py retries a
        # connection error once, immediately, on a fresh socket. Safe for writes too: every write step is an
        # idempotent MERGE. (A `retry=` object would also reach falkordb's synchronous cluster probe and break it.)
        self.pool = aioredis.BlockingConnectionPool(
            host=host, port=port, max_connections=max_connections, timeout=timeout_s,
            socket_connect_timeout=2.0, socket_timeout=timeout_s + 1.0, decode_responses=True,
            retry_on_error=[redis_errors.ConnectionError],
        )
        self.graph = FalkorDB(connection_pool=self.pool).select_graph(graph_name)

    async def _query(self, query: str, params: dict[str, Any], *, read_only: bool = False, timeout_ms: int = 0):
        run = self.graph.ro_query if read_only else self.graph.query
        check_params(params)
        # the server stops the query when the request's deadline runs out
        timeout_ms = int(capped((timeout_ms or self.timeout_ms) / 1000) * 1000) or 1
        try:
            return await run(query, params, timeout=timeout_ms)
        except redis_errors.TimeoutError as exc:
            raise BackendTimeout("graph", "FalkorDB did not answer in time") from exc
        except (redis_errors.ConnectionError, OSError) as exc:
            raise BackendUnavailable("graph", "FalkorDB is not reachable") from exc
        except redis_errors.ResponseError as exc:
            if "timed out" in str(exc).lower():
                raise BackendTimeout("graph", "the graph query timed out") from exc
            raise

    async def read(self, query: LiteralString, params: dict[str, Any]) -> Rows:
        try:
            return (await self._query(query, params, read_only=True)).result_set
        except redis_errors.ResponseError as exc:
            if "empty key" in str(exc):  # the graph has never been written to: nothing to read
                return []
            raise

    async def write(self, steps: Sequence[tuple[LiteralString, dict[str, Any]]]) -> list[Rows]:
        return [(await self._query(query, params)).result_set for query, params in steps]

    async def user_read(self, query: str, params: dict[str, Any], row_cap: int, timeout_s: float) -> list[Any]:
        if "\x00" in query:
            raise BadUserInput("`cypher` must not contain NUL characters", argument="cypher")
        check_params(params)
        try:
            plan = await self.graph.explain(query, params)
            if "load csv" in str(plan).lower():
                raise BadUserInput("graphQuery is read-only: LOAD CSV is not allowed")
            result = await self._query(query, params, read_only=True, timeout_ms=int(timeout_s * 1000))
        except redis_errors.ResponseError as exc:
            raise BadUserInput(f"the graph refused the query: {exc}") from exc
        if len(result.result_set) > row_cap:
            raise BadUserInput(f"graphQuery returned more than {row_cap} rows; add a LIMIT")
        columns = [name.decode() if isinstance(name, bytes) else str(name) for _, name in result.header]
        return [{c: to_json(v) for c, v in zip(columns, row, strict=True)} for row in result.result_set]

    async def ensure_schema(self) -> None:
        for label, prop in cypher.INDEXES:
            try:
                await self._query(f"CREATE INDEX FOR (n:{label}) ON (n.{prop})", {})
            except redis_errors.ResponseError as exc:
                if "already indexed" not in str(exc):
                    raise

    async def ping(self) -> None:
        """A server-level PING: a graph that has no data yet cannot answer even `RETURN 1`."""
        try:
            await aioredis.Redis(connection_pool=self.pool).ping()
        except (redis_errors.ConnectionError, redis_errors.TimeoutError, OSError) as exc:
            raise BackendUnavailable("graph", "FalkorDB is not reachable") from exc

    async def close(self) -> None:
        await self.pool.aclose()


def check_params(value: Any) -> None:
    """Refuse what the client's text header cannot carry intact: NUL anywhere, empty or backticked keys."""
    if isinstance(value, str):
        if "\x00" in value:
            raise BadUserInput("FalkorDB cannot take text containing NUL characters")
    elif isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str) or not key or "`" in key or "\x00" in key:
                raise BadUserInput(f"parameter and map key {str(key)[:60]!r} must be non-empty, without ` or NUL")
            check_params(item)
    elif isinstance(value, list | tuple):
        for item in value:
            check_params(item)


def to_json(value: Any) -> Any:
    if isinstance(value, Node):
        return {"labels": sorted(value.labels or []), "properties": to_json(value.properties)}
    if isinstance(value, Edge):
        return {"type": value.relation, "properties": to_json(value.properties)}
    if isinstance(value, Path):
        return {"nodes": [to_json(n) for n in value.nodes()], "relationships": [to_json(e) for e in value.edges()]}
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    return value
