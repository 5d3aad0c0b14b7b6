"""`ragweave serve` options: the event loop reaches uvicorn; the admission settings are read and checked."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
import uvicorn
import uvloop

from ragweave.cli import _settings, build_parser, uvicorn_options
from ragweave.settings import Settings, SettingsError
from tests.servers.neo4j_server import free_port
from tests.servers.pid_app import app as pid_app


def serve_settings(argv: list[str], monkeypatch: pytest.MonkeyPatch, **env: str) -> Settings:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return _settings(build_parser().parse_args(["serve", *argv]))


@pytest.mark.parametrize(("argv", "env", "loop_type"), [
    ([], {}, uvloop.Loop),  # auto: uvloop, installed with uvicorn[standard]
    (["--loop", "asyncio"], {}, asyncio.SelectorEventLoop),
    (["--loop", "uvloop"], {"RAGWEAVE_LOOP": "asyncio"}, uvloop.Loop),  # the flag wins over the environment
    ([], {"RAGWEAVE_LOOP": "asyncio"}, asyncio.SelectorEventLoop),
])
def test_the_loop_choice_reaches_uvicorn(argv, env, loop_type, monkeypatch):
    options = uvicorn_options(serve_settings(argv, monkeypatch, **env))
    loop = uvicorn.Config(lambda scope, receive, send: None, **options).get_loop_factory()()
    try:
        assert type(loop) is loop_type
    finally:
        loop.close()


def test_a_bad_loop_is_refused(monkeypatch):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "--loop", "trio"])
    with pytest.raises(SettingsError, match="RAGWEAVE_LOOP"):
        serve_settings([], monkeypatch, RAGWEAVE_LOOP="trio")


def test_admission_settings():
    default = Settings.from_env({})
    assert (default.max_in_flight, default.admission_wait_s, default.max_queued) == (64, 1.0, 256)
    off = Settings.from_env({"RAGWEAVE_MAX_IN_FLIGHT": "0", "RAGWEAVE_ADMISSION_WAIT_S": "0.25",
                             "RAGWEAVE_MAX_QUEUED": "0"})
    assert (off.max_in_flight, off.admission_wait_s, off.max_queued) == (0, 0.25, 0)
    for name, value in [("RAGWEAVE_MAX_IN_FLIGHT", "-1"), ("RAGWEAVE_ADMISSION_WAIT_S", "0"),
                        ("RAGWEAVE_MAX_QUEUED", "many")]:
        with pytest.raises(SettingsError, match=name):
            Settings.from_env({name: value})


def test_serve_with_the_asyncio_loop_answers(tmp_path: Path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAGWEAVE_", "OPENAI_"))}
    proc = subprocess.Popen([sys.executable, "-m", "ragweave", "serve", "--loop", "asyncio", "--port", str(port),
                             "--data-dir", str(tmp_path)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None and time.monotonic() < deadline
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as response:
                    assert response.status == 200
                    break
            except OSError:
                time.sleep(0.2)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)


def test_keep_alive_setting():
    assert uvicorn_options(Settings.from_env({}))["timeout_keep_alive"] == 75
    assert uvicorn_options(Settings.from_env({"RAGWEAVE_KEEP_ALIVE_S": "7"}))["timeout_keep_alive"] == 7
    with pytest.raises(SettingsError, match="RAGWEAVE_KEEP_ALIVE_S"):
        Settings.from_env({"RAGWEAVE_KEEP_ALIVE_S": "0"})


@pytest.mark.parametrize(("keep_alive_s", "still_open"), [(1, False), (4, True)])
def test_an_idle_connection_stays_open_for_the_keep_alive(keep_alive_s, still_open):
    """The setting reaches uvicorn: a connection idle for 2 s is closed by the server with 1 s, kept with 4 s."""
    options = uvicorn_options(Settings.from_env({"RAGWEAVE_KEEP_ALIVE_S": str(keep_alive_s)}))
    server = uvicorn.Server(uvicorn.Config(pid_app, **{**options, "port": free_port(), "lifespan": "off",
                                                   "log_level": "warning"}))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
            time.sleep(0.05)
        with socket.create_connection(("127.0.0.1", server.config.port), timeout=5) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
            assert sock.recv(4096).startswith(b"HTTP/1.1 200")
            time.sleep(2)
            sock.sendall(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
            try:
                answer = sock.recv(4096)
            except ConnectionResetError:
                answer = b""
            assert answer.startswith(b"HTTP/1.1 200") is still_open
    finally:
        server.should_exit = True
        thread.join(10)
