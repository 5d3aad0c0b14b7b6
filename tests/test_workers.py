"""Several workers on one port (ragweave/workers.py): each accepts on a socket of its own, new connections spread
over them, a dead worker is replaced and its socket takes no more connections; `ragweave serve --workers`."""

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

from ragweave import cli
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


def listening_sockets(port: int) -> int:
    """TCP sockets listening on `port` (IPv4), from /proc/net/tcp: one per worker."""
    with open("/proc/net/tcp") as table:
        rows = [line.split() for line in table.readlines()[1:]]
    return sum(1 for row in rows if row[1].endswith(f":{port:04X}") and row[3] == "0A")


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


def test_new_connections_spread_over_the_workers(two_workers):
    """64 connections that come while both workers are busy: with one shared socket, the worker that resumes
    first accepts them all; with a socket each, the kernel has hashed them over both (fewer than 12 of 64 on
    one: p < 1e-7)."""
    _, port, pids = two_workers
    assert listening_sockets(port) == 2
    for _ in range(3):
        split = collections.Counter(pids_of_connections(port, 64, paused=pids))
        assert len(split) == 2 and min(split.values()) >= 12, split


def test_a_dead_worker_is_replaced_and_its_socket_takes_no_connections(two_workers):
    proc, port, _ = two_workers
    victim = pids_of_connections(port, 1)[0]
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while listening_sockets(port) > 1:  # the kernel's view: its socket is closed once its last thread has exited
        assert time.monotonic() < deadline, "the dead worker's socket is still listening"
        time.sleep(0.01)
    answered = pids_of_connections(port, 32)  # at once, before the supervisor has noticed: none may hang
    assert victim not in answered and len(answered) == 32
    deadline = time.monotonic() + 60
    while len(set(pids_of_connections(port, 32))) < 2:
        assert time.monotonic() < deadline, "the dead worker was not replaced"
        time.sleep(0.2)
    assert proc.poll() is None


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
