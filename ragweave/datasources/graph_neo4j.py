"""Neo4j 5 dialect: the official async driver.

Dialect differences kept here: named index DDL with IF NOT EXISTS, real write transactions, read-only user
queries checked with EXPLAIN (query type and plan) and run in a READ transaction with a timeout, and error
mapping from the driver's exception tree.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, LiteralString

import neo4j
from neo4j import AsyncDriver, RoutingControl
from neo4j import exceptions as neo4j_errors
from neo4j.graph import Node, Path, Relationship

from ragweave.datasources import cypher
from ragweave.datasources.graph import Rows
from ragweave.deadline import capped
from ragweave.errors import AppError, BackendTimeout, BackendUnavailable, BadUserInput

_UNAVAILABLE = (neo4j_errors.ServiceUnavailable, neo4j_errors.SessionExpired, neo4j_errors.TransientError, OSError)


def open_driver(uri: str, auth: tuple[str, str] | None) -> AsyncDriver:
    """Notifications are off: the server warns about labels our schema creates lazily, on every query."""
    return neo4j.AsyncGraphDatabase.driver(uri, auth=auth, notifications_min_severity="OFF")


class Neo4jRunner:
    dialect = "neo4j"

    def __init__(self, driver: AsyncDriver, database: str, timeout_s: float) -> None:
        self.driver = driver
        self.database = database
        self.timeout_s = timeout_s

    def _translate(self, exc: Exception) -> AppError:
        if isinstance(exc, neo4j_errors.ClientError) and "TimedOut" in (exc.code or ""):
            return BackendTimeout("graph", "the graph query timed out")
        if isinstance(exc, _UNAVAILABLE):
            return BackendUnavailable("graph", "Neo4j is not reachable")
        raise exc

    async def read(self, query: LiteralString, params: dict[str, Any]) -> Rows:
        try:
            records, _, _ = await self.driver.execute_query(
                neo4j.Query(query, timeout=capped(self.timeout_s)), params,
                routing_=RoutingControl.READ, database_=self.database,
            )
        except (neo4j_errors.Neo4jError, neo4j_errors.DriverError, OSError) as exc:
            raise self._translate(exc) from exc
        return [list(record.values()) for record in records]

    async def write(self, steps: Sequence[tuple[LiteralString, dict[str, Any]]]) -> list[Rows]:
        async def work(tx: neo4j.AsyncManagedTransaction) -> list[Rows]:
            return [await (await tx.run(query, params)).values() for query, params in steps]

        try:
            async with self.driver.session(database=self.database) as session:
                return await session.execute_write(work)
        except (neo4j_errors.Neo4jError, neo4j_errors.DriverError, OSError) as exc:
            raise self._translate(exc) from exc

    async def user_read(self, query: str, params: dict[str, Any], row_cap: int, timeout_s: float) -> list[Any]:
        try:
            async with self.driver.session(database=self.database, default_access_mode=neo4j.READ_ACCESS) as session:
                tx = await session.begin_transaction(timeout=capped(timeout_s))
                try:
                    return await self._checked_read(tx, query, params, row_cap)
                finally:
                    await tx.rollback()
        except neo4j_errors.ClientError as exc:
            if "TimedOut" in (exc.code or ""):
                raise BackendTimeout("graph", "the graph query timed out") from exc
            raise BadUserInput(f"the graph refused the query: {exc.message}") from exc
        except (neo4j_errors.Neo4jError, neo4j_errors.DriverError, OSError) as exc:
            raise self._translate(exc) from exc

    async def _checked_read(self, tx: Any, query: str, params: dict[str, Any], row_cap: int) -> list[Any]:
        summary = await (await tx.run("EXPLAIN " + query, params)).consume()
        if summary.query_type != "r":
            raise BadUserInput("graphQuery is read-only: the statement would write")
        if "LoadCSV" in _operators(summary.plan):
            raise BadUserInput("graphQuery is read-only: LOAD CSV is not allowed")
        result = await tx.run(query, params)
        rows: list[Any] = []
        async for record in result:
            if len(rows) == row_cap:
                raise BadUserInput(f"graphQuery returned more than {row_cap} rows; add a LIMIT")
            rows.append({key: to_json(value) for key, value in record.items()})
        return rows

    async def ensure_schema(self) -> None:
        for label, prop in cypher.INDEXES:
            name = f"ragweave_{label.lower()}_{prop}"
            await self.driver.execute_query(
                f"CREATE INDEX {name} IF NOT EXISTS FOR (n:{label}) ON (n.{prop})", database_=self.database
            )

    async def ping(self) -> None:
        await self.read(cypher.PING, {})

    async def close(self) -> None:
        await self.driver.close()


def _operators(plan: dict[str, Any] | None) -> set[str]:
    if not plan:
        return set()
    found = {str(plan.get("operatorType", "")).split("@")[0]}
    for child in plan.get("children", []):
        found |= _operators(child)
    return found


def to_json(value: Any) -> Any:
    if isinstance(value, Node):
        return {"labels": sorted(value.labels), "properties": to_json(dict(value))}
    if isinstance(value, Relationship):
        return {"type": value.type, "properties": to_json(dict(value))}
    if isinstance(value, Path):
        return {"nodes": [to_json(n) for n in value.nodes], "relationships": [to_json(r) for r in value.relationships]}
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)
