"""FalkorDB replies are parsed in C by hiredis, not by redis-py's pure-Python parser: the soak (perf/SOAK.md) found
half of the server's CPU in that parser under mixed load, and graph reads take 3-8x less CPU with hiredis."""

from __future__ import annotations

from redis._parsers import _AsyncHiredisParser

from ragweave.datasources.graph_falkordb import FalkorRunner


async def test_falkordb_replies_are_parsed_by_hiredis(falkordb_runner: FalkorRunner):
    connection = await falkordb_runner.pool.get_connection()
    try:
        assert isinstance(connection._parser, _AsyncHiredisParser)
    finally:
        await falkordb_runner.pool.release(connection)
