"""Several workers on one port (ragweave/workers.py): the supervisor deals new connections to them in turn, a
worker that does not read is passed over, a dead one is skipped and replaced; `ragweave serve --workers`."""

from __future__ import annotations

import collections
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ragweave import cli, workers
from ragweave.settings import Settings, SettingsError
from tests.servers.neo4j_server import free_port

ROOT = Path(__file__).resolve().parent.parent
SUPERVISOR = ("import uvicorn; from ragweave import workers; workers.run(uvicorn.Config("
              "'tests.servers.pid_app:app', host='127.0.0.1', port={port}, workers={workers}, lifespan='off', "
              "log_level='warning'))")


def ask_pid(sock: socket.socket) -> int:
    sock.sendall(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
    answer = b""
    while b"\r\n\r\n" not in answer or len(answer.split(b"\r\n\r\n", 1)[1]) < length_of(answer):
        chunk = sock.recv(4096)
        assert chunk, f"connection closed after {answer!r}"
        answer += chunk
    return int(answer.split(b"\r\n\r\n", 1)[1])


def length_of(head: bytes) -> int:
    return int(head.lower().split(b"content-length: ", 1)[1].split(b"\r\n", 1)[0])


def pids_of_connections(port: int, count: int, paused: set[int] = frozenset()) -> list[int]:
    """Opens `count` connections, then asks each which process serves it. With `paused` workers, the connections
    are opened while those are stopped, as in a burst that comes while the workers are busy, and the workers
    resume one after the other."""
    for pid in paused:
        os.kill(pid, signal.SIGSTOP)
    try:
        socks = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(count)]
    finally:
        for pid in paused:
            os.kill(pid, signal.SIGCONT)
            time.sleep(0.2)
    try:
        return [ask_pid(s) for s in socks]
    finally:
        for s in socks:
            s.close()


@pytest.fixture
def two_workers():
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", SUPERVISOR.format(port=port, workers=2)], cwd=ROOT,
                            start_new_session=True)
    try:  # stopped also when it never started: a fixture that fails before its yield gets no teardown
        deadline, pids = time.monotonic() + 60, set()
        while len(pids) < 2:
            assert proc.poll() is None and time.monotonic() < deadline, "the workers did not start"
            try:
                pids |= set(pids_of_connections(port, 16))
            except OSError:
                time.sleep(0.2)
        yield proc, port, pids
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(20)


def test_new_connections_are_dealt_to_the_workers_in_turn(two_workers):
    """64 connections, also when they come while both workers are busy (stopped): 32 each. With one shared
    socket, the worker that resumed first accepted all 64; with a socket each, the kernel's hash split them only
    as evenly as chance (23/41 in perf runs)."""
    _, port, pids = two_workers
    assert sorted(collections.Counter(pids_of_connections(port, 64)).values()) == [32, 32]
    for _ in range(3):
        split = collections.Counter(pids_of_connections(port, 64, paused=pids))
        assert sorted(split.values()) == [32, 32], split


def test_a_dead_worker_loses_no_connection_and_is_replaced(two_workers):
    proc, port, _ = two_workers
    victim = pids_of_connections(port, 1)[0]
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while True:  # reaped by the supervisor: all its threads have exited, so its end of the channel is closed
        try:
            os.kill(victim, 0)
        except ProcessLookupError:
            break
        assert time.monotonic() < deadline, "the supervisor did not reap the dead worker"
        time.sleep(0.01)
    answered = pids_of_connections(port, 32)  # at once, while the replacement may still be starting: none lost
    assert victim not in answered and len(answered) == 32
    deadline = time.monotonic() + 60
    while len(set(pids_of_connections(port, 32))) < 2:
        assert time.monotonic() < deadline, "the dead worker was not replaced"
        time.sleep(0.2)
    assert sorted(collections.Counter(pids_of_connections(port, 32)).values()) == [16, 16]
    assert proc.poll() is None


def test_the_dealer_passes_over_a_worker_that_does_not_read_and_drops_a_dead_one():
    dealer = workers.Dealer(workers.listening_socket("127.0.0.1", 0, 8))
    slow, fast = dealer.new_channel(), dealer.new_channel()
    fast.setblocking(False)
    received = {"slow": 0, "fast": 0}

    def drain(channel: socket.socket, name: str) -> None:
        while True:
            try:
                _, fds, _, _ = socket.recv_fds(channel, 1, 1)
            except BlockingIOError:
                return
            if not fds:  # the dealer closed its end
                return
            received[name] += len(fds)
            for fd in fds:
                os.close(fd)

    with socket.socket() as connection:
        for _ in range(3000):  # the slow worker never reads: once its channel is full, all go to the fast one
            assert dealer.deal(connection)
            drain(fast, "fast")
        slow.setblocking(False)
        drain(slow, "slow")
        assert received["slow"] + received["fast"] == 3000 and received["fast"] > 1500, received
        assert len(dealer.channels) == 2  # passed over, not dropped
        slow.close()  # its worker died
        assert dealer.deal(connection) and len(dealer.channels) == 1
        drain(fast, "fast")
        assert received["fast"] + received["slow"] == 3001
        fast.close()
        assert not dealer.deal(connection) and not dealer.channels
    dealer.stop()


def test_several_workers_need_backends_they_can_share():
    servers = {"QDRANT_URL": "http://127.0.0.1:6333", "NEO4J_URI": "bolt://127.0.0.1:7687"}
    assert Settings.from_env({**servers, "RAGWEAVE_WORKERS": "4"}).workers == 4
    assert Settings.from_env({"QDRANT_URL": "http://q:6333", "RAGWEAVE_FALKORDB_URL": "redis://f:6379",
                              "RAGWEAVE_WORKERS": "2"}).workers == 2
    for env in ({}, {"QDRANT_URL": servers["QDRANT_URL"]}, {"NEO4J_URI": servers["NEO4J_URI"]},
                {**servers, "QDRANT_URL": ":memory:"}):
        with pytest.raises(SettingsError, match="RAGWEAVE_WORKERS"):
            Settings.from_env({**env, "RAGWEAVE_WORKERS": "2"})
    assert Settings.from_env({"RAGWEAVE_WORKERS": "1"}).workers == 1


def test_serve_hands_its_flags_to_the_workers(monkeypatch, tmp_path):
    """Each worker builds its app from the environment: `serve --workers` exports its flags there first."""
    started = []
    monkeypatch.setattr("ragweave.workers.run", started.append)
    monkeypatch.setattr(os, "environ", {"QDRANT_URL": "http://127.0.0.1:1", "NEO4J_URI": "bolt://127.0.0.1:1"})
    args = cli.build_parser().parse_args(["serve", "--workers", "3", "--port", "8123", "--data-dir", str(tmp_path),
                                          "--loop", "asyncio", "--demo"])
    assert cli.serve(args) == 0
    (config,) = started
    assert (config.app, config.factory, config.workers, config.port) == ("ragweave.cli:worker_app", True, 3, 8123)
    worker_settings = Settings.from_env()
    assert (worker_settings.workers, worker_settings.port, worker_settings.data_dir, worker_settings.loop,
            worker_settings.load_demo) == (3, 8123, tmp_path, "asyncio", True)


def test_one_worker_serves_the_app_object(monkeypatch, tmp_path):
    started = []
    monkeypatch.setattr("ragweave.workers.run", started.append)
    monkeypatch.setattr(os, "environ", {})
    assert cli.serve(cli.build_parser().parse_args(["serve", "--data-dir", str(tmp_path)])) == 0
    (config,) = started
    assert config.workers == 1 and not isinstance(config.app, str)
