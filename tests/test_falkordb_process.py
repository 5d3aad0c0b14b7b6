"""The embedded FalkorDB child: persistence across restarts and crashes, the data-dir lock, death detection."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from falkordb.asyncio import FalkorDB
from falkordb.asyncio.graph import AsyncGraph
from redis import exceptions as redis_errors

from ragweave.datasources.falkordb_process import DataDirInUse, EmbeddedFalkorDB

REPO = Path(__file__).resolve().parents[1]


@asynccontextmanager
async def graph(server: EmbeddedFalkorDB) -> AsyncIterator[AsyncGraph]:
    # Like FalkorRunner: an explicit pool (no retries by default), bounded socket timeouts.
    pool = aioredis.BlockingConnectionPool(
        host=server.host, port=server.port, max_connections=4, timeout=2,
        socket_timeout=2.0, socket_connect_timeout=1.0, decode_responses=True,
    )
    try:
        yield FalkorDB(connection_pool=pool).select_graph("t")
    finally:
        await pool.aclose()


async def ids(server: EmbeddedFalkorDB) -> list[str]:
    async with graph(server) as g:
        return [row[0] for row in (await g.ro_query("MATCH (n:E) RETURN n.id ORDER BY n.id")).result_set]


async def wait_dead(server: EmbeddedFalkorDB, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while server.alive():
        assert time.monotonic() < deadline, "the child did not die"
        await asyncio.sleep(0.02)


def pid_running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


async def test_data_survives_a_clean_restart_on_another_port(tmp_path: Path):
    first = EmbeddedFalkorDB(tmp_path / "graph")
    started = time.perf_counter()
    await first.start()
    ready_s = time.perf_counter() - started
    try:
        assert first.alive() and first.pid and first.url == f"redis://127.0.0.1:{first.port}"
        assert ready_s < 5.0
        assert (tmp_path / "graph" / "ragweave.lock").read_text().strip() == str(os.getpid())
        async with graph(first) as g:
            assert (await g.query("CREATE (:E {id: 'a'})")).nodes_created == 1
    finally:
        await first.stop()
    assert not first.alive()
    await first.stop()  # idempotent

    second = EmbeddedFalkorDB(tmp_path / "graph", port=_free_port_other_than(first.port))
    await second.start()
    try:
        assert second.port != first.port
        assert await ids(second) == ["a"]
    finally:
        await second.stop()
    assert (tmp_path / "graph" / "graph.rdb").exists() and (tmp_path / "graph" / "appendonlydir").is_dir()


async def test_a_second_server_on_the_same_data_dir_is_refused(tmp_path: Path):
    first = EmbeddedFalkorDB(tmp_path / "graph")
    await first.start()
    try:
        async with graph(first) as g:
            await g.query("CREATE (:E {id: 'a'})")
        intruder = EmbeddedFalkorDB(tmp_path / "graph")
        with pytest.raises(DataDirInUse, match=rf"data dir .*graph is already used by .* \(pid {os.getpid()}\)"):
            await intruder.start()
        assert intruder.pid is None and not intruder.alive()
        await intruder.stop()  # must not release the first server's lock
        with pytest.raises(DataDirInUse):
            await EmbeddedFalkorDB(tmp_path / "graph").start()
        assert first.alive() and await ids(first) == ["a"]
    finally:
        await first.stop()


async def test_a_killed_child_is_detected_fails_fast_and_its_fsynced_writes_come_back(tmp_path: Path):
    server = EmbeddedFalkorDB(tmp_path / "graph")
    await server.start()
    try:
        async with graph(server) as g:
            await g.query("CREATE (:E {id: 'a'})")
            await g.query("UNWIND $rows AS r MERGE (n:E {id: r.id})", {"rows": [{"id": "b"}, {"id": "c"}]})
            # appendfsync everysec: Redis may lose up to ~1 s of writes on a crash, and FalkorDB replies from its
            # worker threads before the AOF is written (seen losing the last two writes under load). What is
            # promised is that writes older than the fsync interval survive a SIGKILL.
            await asyncio.sleep(2.0)
            os.kill(server.pid, signal.SIGKILL)
            await wait_dead(server)
            assert not server.alive()

            started = time.perf_counter()
            with pytest.raises(redis_errors.ConnectionError):  # "Connection reset by peer" on a pooled socket
                await g.ro_query("RETURN 1")
            with pytest.raises(redis_errors.ConnectionError, match="Error 111 connecting"):  # then: refused
                await g.ro_query("RETURN 1")
            assert time.perf_counter() - started < 1.0

        # The dead child's parent still holds the lock until stop().
        with pytest.raises(DataDirInUse):
            await EmbeddedFalkorDB(tmp_path / "graph").start()
    finally:
        await server.stop()

    fresh = EmbeddedFalkorDB(tmp_path / "graph")
    await fresh.start()
    try:
        assert await ids(fresh) == ["a", "b", "c"]
    finally:
        await fresh.stop()


async def test_the_same_pool_recovers_after_a_restart_on_the_same_port(tmp_path: Path):
    server = EmbeddedFalkorDB(tmp_path / "graph")
    await server.start()
    async with graph(server) as g:
        try:
            await g.query("CREATE (:E {id: 'a'})")
            port = server.port
            await server.stop()
            with pytest.raises(redis_errors.ConnectionError):
                await g.ro_query("RETURN 1")
            server = EmbeddedFalkorDB(tmp_path / "graph", port=port)
            await server.start()
            assert (await g.ro_query("MATCH (n:E) RETURN n.id")).result_set == [["a"]]
        finally:
            await server.stop()


async def test_a_port_taken_by_another_server_fails_start_with_the_log_tail_and_releases_the_lock(tmp_path: Path):
    other = EmbeddedFalkorDB(tmp_path / "other")
    await other.start()
    try:
        # The other server answers on that port, so readiness must check it is talking to its own child.
        server = EmbeddedFalkorDB(tmp_path / "graph", port=other.port)
        with pytest.raises(RuntimeError, match="Address already in use"):
            await server.start()
        assert not server.alive() and other.alive()
    finally:
        await other.stop()
    retry = EmbeddedFalkorDB(tmp_path / "graph")
    await retry.start()
    await retry.stop()


async def test_the_child_dies_with_its_parent_and_frees_the_data_dir(tmp_path: Path):
    script = (
        "import asyncio, sys\n"
        "from pathlib import Path\n"
        "from ragweave.datasources.falkordb_process import EmbeddedFalkorDB\n"
        "async def main():\n"
        "    server = EmbeddedFalkorDB(Path(sys.argv[1]))\n"
        "    await server.start()\n"
        "    print(server.pid, flush=True)\n"
        "    await asyncio.sleep(60)\n"
        "asyncio.run(main())\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    parent = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, str(tmp_path / "graph"), stdout=asyncio.subprocess.PIPE, env=env
    )
    try:
        child = int(await asyncio.wait_for(parent.stdout.readline(), 30))
        assert pid_running(child)
    finally:
        parent.kill()
        await parent.wait()
    deadline = time.monotonic() + 10
    while pid_running(child):
        assert time.monotonic() < deadline, f"redis-server {child} outlived its parent"
        await asyncio.sleep(0.05)
    server = EmbeddedFalkorDB(tmp_path / "graph")  # the lock died with both processes
    await server.start()
    await server.stop()


async def hold_lock(lock: Path, seconds: float) -> asyncio.subprocess.Process:
    script = ("import fcntl, os, sys, time\n"
              "fd = os.open(sys.argv[1], os.O_RDWR)\n"
              "fcntl.flock(fd, fcntl.LOCK_EX)\n"
              "print('held', flush=True)\n"
              "time.sleep(float(sys.argv[2]))\n")
    holder = await asyncio.create_subprocess_exec(sys.executable, "-c", script, str(lock), str(seconds),
                                                  stdout=asyncio.subprocess.PIPE)
    assert await asyncio.wait_for(holder.stdout.readline(), 10) == b"held\n"
    return holder


async def test_a_leftover_of_an_exited_ragweave_is_waited_for_and_then_named(tmp_path: Path):
    data = tmp_path / "graph"
    data.mkdir()
    exited = await asyncio.create_subprocess_exec(sys.executable, "-c", "pass")
    await exited.wait()
    lock = data / "ragweave.lock"
    lock.write_text(f"{exited.pid}\n")  # the ragweave that took the lock is gone; a leftover of it holds it

    holder = await hold_lock(lock, 60)
    try:
        started = time.monotonic()
        with pytest.raises(DataDirInUse, match=rf"left over from ragweave pid {exited.pid}, which has exited"):
            await EmbeddedFalkorDB(data, leftover_wait_s=0.5).start()
        assert 0.5 <= time.monotonic() - started < 5
    finally:
        holder.kill()
        await holder.wait()

    brief = await hold_lock(lock, 1.0)  # this leftover lets go within the wait
    server = EmbeddedFalkorDB(data)
    await server.start()
    await server.stop()
    await brief.wait()


def _free_port_other_than(port: int | None) -> int:
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            if (free := s.getsockname()[1]) != port:
                return free
