"""Child processes of a perf run: started in their own process group on 127.0.0.1, always stopped.

Every child is tracked; `stop_all()` (registered with atexit and run on SIGINT/SIGTERM) sends SIGTERM to each
child's own process group (the group id is the child's pid, so nothing else is touched), then SIGKILL after a
grace period.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "perf" / "out"
_children: list[subprocess.Popen] = []


_handed_out: set[int] = set()


def free_port() -> int:
    """A port free now and not handed out before by this process: the kernel may give a port just closed to the
    next `bind(0)`, and servers started one after the other bind theirs only later."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port not in _handed_out:
            _handed_out.add(port)
            return port


def env(**extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("RAGWEAVE_", "OPENAI_", "PERF_"))}
    return {**base, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1", **extra}


def spawn(name: str, args: list[str], extra_env: dict[str, str] | None = None, root: Path = ROOT) -> subprocess.Popen:
    """`python <args>` in `root` (a checkout of the repository: its packages are the ones imported)."""
    OUT.mkdir(parents=True, exist_ok=True)
    with open(OUT / f"{name}.log", "wb") as log:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen([sys.executable, *args], cwd=root, env=env(PYTHONPATH=str(root), **(extra_env or {})),
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    _children.append(proc)
    return proc


def get_json(url: str, timeout: float = 5.0) -> dict:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.loads(response.read())


def wait_ready(proc: subprocess.Popen, url: str, within: float = 120.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args} exited with {proc.returncode}; see perf/out/*.log")
        try:
            get_json(url, timeout=1.0)
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} not ready within {within}s")


@dataclass
class Server:
    name: str
    proc: subprocess.Popen
    port: int
    workers: int = 1  # processes that serve requests

    @property
    def pid(self) -> int:
        return self.proc.pid

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


def start_fake_server(name: str, app: str, *, workers: int = 1, vector_ms: float = 0, graph_ms: float = 0,
                      debug: bool = False, loop: str = "auto", extra_env: dict[str, str] | None = None,
                      root: Path = ROOT) -> Server:
    port = free_port()
    args = ["-m", "perf.serve_fakes", "--app", app, "--port", str(port), "--workers", str(workers),
            "--vector-ms", str(vector_ms), "--graph-ms", str(graph_ms), "--loop", loop]
    proc = spawn(name, args + (["--debug-extensions"] if debug else []), extra_env, root)
    return Server(name, proc, port, workers)


def stop(proc: subprocess.Popen, grace: float = 8.0) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
    else:  # the leader is gone; make sure no worker of its group outlives it
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def stop_all(grace: float = 8.0) -> None:
    """SIGTERM to every child's group at once, then wait for them together, then SIGKILL what is left."""
    children, _children[:] = list(_children), []
    for proc in children:
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + grace
    for proc in children:
        try:
            proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
        stop(proc, grace=0.1)  # SIGKILL if still running; also clears any worker left in its group


def _on_signal(signum: int, frame: object) -> None:
    stop_all()
    raise SystemExit(128 + signum)


atexit.register(stop_all)
signal.signal(signal.SIGTERM, _on_signal)
signal.signal(signal.SIGINT, _on_signal)


@contextlib.contextmanager
def tracked(proc: subprocess.Popen):
    """`proc` (started with start_new_session=True) is stopped with the rest on failure, Ctrl-C, or at the end
    of the block."""
    _children.append(proc)
    try:
        yield proc
    finally:
        stop(proc)
        _children.remove(proc)


def run_json(args: list[str], timeout: float) -> dict:
    """Run `python <args>` to completion (tracked, so it is stopped with the rest) and parse its JSON stdout."""
    with tracked(subprocess.Popen([sys.executable, *args], cwd=ROOT, env=env(), stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, start_new_session=True)) as proc:
        out, err = proc.communicate(timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"{args[:2]} failed ({proc.returncode}): {err.decode()[-2000:]}")
    return json.loads(out)
