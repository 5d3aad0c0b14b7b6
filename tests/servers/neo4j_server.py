"""A real Neo4j 5 Community server for the tests: embedded in a small Java 17 launcher, Bolt on loopback.

The launcher (tests/neo4j_launcher) is built with Maven from Maven Central artifacts the first time it is
needed; later runs reuse target/neo4j-launcher.jar and target/lib and need no network. Each server gets its
own data dir (its Neo4j home: data/, logs/, the launcher's log `launcher.log`), a free loopback port, no auth.

The launcher stops cleanly when its stdin reaches EOF or on SIGTERM, so it cannot outlive the test run: the
parent holds its stdin, and a Linux parent-death signal (SIGTERM) is set as a second safety net (only when
started from the main thread: Linux sends it when the forking *thread* exits).

Start-up is CPU-bound class loading (~12 s of CPU on a cold JVM). Two things roughly halve it: the build
ends with one training run that writes a class-data-sharing archive (target/neo4j-launcher.jsa; if that
fails the servers just start without it), and the JIT is limited to C1 (`c1_only=True`), which is plenty
for test-sized data.
"""

from __future__ import annotations

import atexit
import ctypes
import fcntl
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import warnings
import weakref
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import IO

import neo4j

LAUNCHER_DIR = Path(__file__).resolve().parent.parent / "neo4j_launcher"
LAUNCHER_MAIN = "ragweave.testing.Neo4jLauncher"
LAUNCHER_JAR = "neo4j-launcher.jar"
CDS_ARCHIVE = "neo4j-launcher.jsa"
READY_PREFIX = "NEO4J_READY "
DEFAULT_JAVA17_HOME = Path("/usr/lib/jvm/java-17-openjdk-amd64")
JVM_OPTIONS = (
    "-XX:+UseSerialGC",
    "-XX:+ExitOnOutOfMemoryError",
    "-XX:-UsePerfData",
    "-Dfile.encoding=UTF-8",
    # What Neo4j's own start script passes on Java 17 (page cache and Netty use these).
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "-Dio.netty.tryReflectionSetAccessible=true",
)
_BIND_FAILURE = re.compile(r"Address already in use|PortBindException", re.IGNORECASE)
_PR_SET_PDEATHSIG = 1


def _java_major(java: Path) -> int | None:
    try:
        proc = subprocess.run(
            [str(java), "-version"], capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', proc.stderr + proc.stdout)
    if match is None:
        return None
    major = int(match.group(1))
    # Pre-9 style "1.8.0" versions report the major in the second position.
    return int(match.group(2) or 0) if major == 1 else major


def find_java17() -> Path | None:
    """The `java` executable of a Java 17 runtime, or None.

    Looks at $RAGWEAVE_JAVA17_HOME, then /usr/lib/jvm/java-17-openjdk-amd64, then `java` on PATH if it is 17.
    """
    env_home = os.environ.get("RAGWEAVE_JAVA17_HOME")
    if env_home:
        java = Path(env_home) / "bin" / "java"
        return java if java.is_file() and os.access(java, os.X_OK) else None
    java = DEFAULT_JAVA17_HOME / "bin" / "java"
    if java.is_file() and os.access(java, os.X_OK):
        return java
    on_path = shutil.which("java")
    if on_path and _java_major(Path(on_path)) == 17:
        return Path(on_path).resolve()
    return None


JAVA17: Path | None = find_java17()


def _require_java17() -> Path:
    if JAVA17 is None:
        raise RuntimeError(
            "Neo4j test server: no Java 17 runtime found (set RAGWEAVE_JAVA17_HOME to a JDK 17 home, install "
            "openjdk-17-jdk-headless, or put a Java 17 `java` on PATH)"
        )
    return JAVA17


def _java_home(java: Path) -> Path:
    return java.resolve().parent.parent


def _newest_source_mtime() -> float:
    sources = [LAUNCHER_DIR / "pom.xml", *(p for p in (LAUNCHER_DIR / "src").rglob("*") if p.is_file())]
    return max(p.stat().st_mtime for p in sources)


def build_launcher() -> Path:
    """Build the launcher with Maven if its build output is missing or older than its sources.

    Returns the launcher's target dir (target/neo4j-launcher.jar, dependency jars in target/lib, and the
    class-data-sharing archive target/neo4j-launcher.jsa when its training run worked). Concurrent callers
    (e.g. pytest-xdist workers) serialise on a lock file in target/.
    """
    target = LAUNCHER_DIR / "target"
    stamp = target / ".ragweave-build-ok"
    target.mkdir(exist_ok=True)
    with open(target / ".ragweave-build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if stamp.exists() and stamp.stat().st_mtime >= _newest_source_mtime():
            return target
        stamp.unlink(missing_ok=True)
        (target / CDS_ARCHIVE).unlink(missing_ok=True)
        java = _require_java17()
        mvn = os.environ.get("RAGWEAVE_MVN") or shutil.which("mvn")
        if not mvn:
            raise RuntimeError("Neo4j test server: Maven (`mvn`) not found on PATH; install maven")
        env = dict(os.environ, JAVA_HOME=str(_java_home(java)))
        cmd = [mvn, "-q", "-B", "-DskipTests", "package"]
        try:
            proc = subprocess.run(
                cmd,
                cwd=LAUNCHER_DIR,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                timeout=1800,
            )
        except subprocess.TimeoutExpired as exc:
            raise RuntimeError(f"Neo4j launcher build timed out: {' '.join(cmd)}") from exc
        lib = target / "lib"
        built = (target / LAUNCHER_JAR).is_file() and lib.is_dir() and any(lib.glob("neo4j-*.jar"))
        if proc.returncode != 0 or not built:
            tail = "\n".join(proc.stdout.splitlines()[-60:])
            raise RuntimeError(
                f"Neo4j launcher build failed (exit {proc.returncode}) in {LAUNCHER_DIR}: "
                f"{' '.join(cmd)}\n{tail}"
            )
        _train_cds_archive(target, java)
        stamp.touch()
        return target


def _train_cds_archive(target: Path, java: Path) -> None:
    """One server run that loads the classes the tests use, dumping them to a CDS archive at exit."""
    archive = target / CDS_ARCHIVE
    # Dump under another name and keep it only after a clean exit: a truncated archive crashes the JVM.
    partial = target / f"{CDS_ARCHIVE}.partial"
    partial.unlink(missing_ok=True)
    report = target / "cds-training.log"
    failure = ""
    with tempfile.TemporaryDirectory(prefix="neo4j-cds-") as tmp:
        server = Neo4jServer(java=java)
        server._cds_dump = partial
        try:
            server._start_built(target, Path(tmp), None, timeout=300.0)
            with neo4j.GraphDatabase.driver(server.uri, auth=None) as driver:
                driver.execute_query("CREATE (n:T {x: 1}) RETURN n.x")
                driver.execute_query(
                    "UNWIND $rows AS row MERGE (a:E {id: row.id}) MERGE (b:E {id: row.next}) "
                    "MERGE (a)-[:R]->(b)",
                    rows=[{"id": "a", "next": "b"}, {"id": "b", "next": "c"}],
                )
                driver.execute_query("MATCH (a:E {id: 'a'})-[*1..2]-(m) RETURN DISTINCT m.id")
        except (OSError, RuntimeError, neo4j.exceptions.DriverError, neo4j.exceptions.Neo4jError) as exc:
            failure = f"training run failed: {exc}\n"
        finally:
            server.stop()
        log = Neo4jServer._read_log(Path(tmp) / "launcher.log", 0)[-20000:]
        report.write_text(f"{failure}training run exit code {server.returncode}\n{log}")
    if not failure and server.returncode == 0 and partial.is_file() and partial.stat().st_size > 0:
        partial.replace(archive)
    else:
        partial.unlink(missing_ok=True)
        warnings.warn(
            f"Neo4j launcher: no class-data-sharing archive was written (see {report}); "
            "servers will start more slowly",
            RuntimeWarning,
            stacklevel=3,
        )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _parent_death_signal(parent_pid: int) -> None:
    """Runs in the child between fork and exec: SIGTERM the launcher when the forking thread dies."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)


_running: weakref.WeakSet[Neo4jServer] = weakref.WeakSet()


@atexit.register
def _stop_all() -> None:
    for server in list(_running):
        server.stop(timeout=15.0)


class Neo4jServer:
    """One embedded Neo4j 5 Community server process with Bolt on 127.0.0.1, no auth.

    >>> with Neo4jServer().start(tmp_path / "neo4j") as server:
    ...     driver = neo4j.GraphDatabase.driver(server.uri, auth=None)
    """

    def __init__(
        self,
        *,
        heap: str = "768m",
        java: Path | None = None,
        c1_only: bool = True,
        jvm_options: Sequence[str] = (),
    ) -> None:
        self.heap = heap
        self.c1_only = c1_only
        self.jvm_options = tuple(jvm_options)
        self._java = java
        self._cds_dump: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._port: int | None = None
        self.data_dir: Path | None = None
        self.startup_seconds: float | None = None
        self.returncode: int | None = None
        self._lock = threading.Lock()

    # -- properties --------------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("Neo4jServer is not started")
        return self._port

    @property
    def uri(self) -> str:
        return f"bolt://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        if self._proc is None:
            raise RuntimeError("Neo4jServer is not started")
        return self._proc.pid

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def log_path(self) -> Path:
        if self.data_dir is None:
            raise RuntimeError("Neo4jServer was never started")
        return self.data_dir / "launcher.log"

    # -- lifecycle ---------------------------------------------------------------------------------------

    def start(self, data_dir: Path, port: int | None = None, *, timeout: float = 120.0) -> Neo4jServer:
        """Start the server on `port` (a free one if None) with `data_dir` as its Neo4j home.

        Returns once the launcher printed its READY line and the Python driver connected. Raises
        RuntimeError (with the launcher's output) if it exits or is not ready within `timeout` seconds.
        """
        return self._start_built(build_launcher(), data_dir, port, timeout=timeout)

    def _start_built(self, target: Path, data_dir: Path, port: int | None, *, timeout: float) -> Neo4jServer:
        if self._proc is not None:
            raise RuntimeError(f"Neo4jServer already started (pid {self._proc.pid})")
        java = self._java or _require_java17()
        data_dir = Path(data_dir).resolve()
        data_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir = data_dir
        attempts = 1 if port is not None else 3
        for attempt in range(1, attempts + 1):
            try:
                self._launch(java, target, data_dir, port if port is not None else free_port(), timeout)
                return self
            except _PortInUse as exc:
                if attempt == attempts:
                    raise RuntimeError(f"Neo4j server could not bind its Bolt port: {exc}") from None
        raise AssertionError("unreachable")

    def _launch(self, java: Path, target: Path, data_dir: Path, port: int, timeout: float) -> None:
        log_path = data_dir / "launcher.log"
        log = open(log_path, "ab")  # kept open for the process lifetime
        offset = log.tell()
        options = [f"-Xmx{self.heap}", "-Xms128m", *JVM_OPTIONS]
        if self.c1_only:
            options.append("-XX:TieredStopAtLevel=1")
        if self._cds_dump is not None:
            options.append(f"-XX:ArchiveClassesAtExit={self._cds_dump}")
        elif (target / CDS_ARCHIVE).is_file():
            options.append(f"-XX:SharedArchiveFile={target / CDS_ARCHIVE}")
        cmd = [
            str(java),
            *options,
            *self.jvm_options,
            "-cp",
            f"{target / LAUNCHER_JAR}{os.pathsep}{target / 'lib'}/*",
            LAUNCHER_MAIN,
            "--port",
            str(port),
            "--data-dir",
            str(data_dir),
        ]
        # Linux delivers the parent-death signal when the *thread* that forked exits, so it is only set when
        # starting from the main thread; from elsewhere stdin reaching EOF (the parent process died and its
        # pipe end with it) remains the safety net.
        parent_pid = os.getpid()
        on_main_thread = threading.current_thread() is threading.main_thread()
        started = time.monotonic()
        try:
            proc = subprocess.Popen(
                cmd,
                stdin=subprocess.PIPE,
                stdout=log,
                stderr=log,
                cwd=data_dir,
                preexec_fn=(lambda: _parent_death_signal(parent_pid)) if on_main_thread else None,
            )
        except BaseException:
            log.close()
            raise
        self._proc, self._log, self._port = proc, log, port
        self.returncode = None
        _running.add(self)
        try:
            self._wait_ready(proc, log_path, offset, started + timeout)
            self._verify_connectivity(max(started + timeout - time.monotonic(), 10.0))
        except BaseException as exc:
            output = self._read_log(log_path, offset)
            self.kill()
            if isinstance(exc, _LaunchFailed | neo4j.exceptions.DriverError | neo4j.exceptions.Neo4jError):
                detail = f"{exc} (port {port})\n--- {log_path} ---\n{output[-8000:]}"
                if isinstance(exc, _LaunchFailed) and _BIND_FAILURE.search(output):
                    raise _PortInUse(detail) from exc
                raise RuntimeError(f"Neo4j server failed to start: {detail}") from exc
            raise
        self.startup_seconds = time.monotonic() - started

    @staticmethod
    def _read_log(log_path: Path, offset: int) -> str:
        try:
            with open(log_path, "rb") as fh:
                fh.seek(offset)
                return fh.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def _wait_ready(
        self, proc: subprocess.Popen[bytes], log_path: Path, offset: int, deadline: float
    ) -> None:
        expected = f"{READY_PREFIX}{self.uri}"
        while True:
            for line in self._read_log(log_path, offset).splitlines():
                if line.startswith(READY_PREFIX):
                    if line.strip() != expected:
                        raise _LaunchFailed(f"unexpected READY line {line!r}, wanted {expected!r}")
                    return
            code = proc.poll()
            if code is not None:
                raise _LaunchFailed(f"launcher exited with code {code} before it was ready")
            if time.monotonic() > deadline:
                raise _LaunchFailed("launcher was not ready in time")
            time.sleep(0.1)

    def _verify_connectivity(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with neo4j.GraphDatabase.driver(self.uri, auth=None, connection_timeout=5.0) as driver:
                    driver.verify_connectivity()
                return
            except neo4j.exceptions.ServiceUnavailable:
                if time.monotonic() > deadline or not self.running:
                    raise
                time.sleep(0.2)

    def stop(self, timeout: float = 60.0) -> int | None:
        """Stop cleanly: close stdin and wait, then SIGTERM, then SIGKILL. Returns the exit code."""
        with self._lock:
            proc = self._proc
            if proc is None:
                return self.returncode
            try:
                if proc.stdin is not None:
                    proc.stdin.close()
            except OSError:
                pass
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=15.0)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=15.0)
            return self._reap(proc)

    def kill(self) -> int | None:
        """SIGKILL the launcher at once (no clean shutdown), for fault tests. Returns the exit code."""
        with self._lock:
            proc = self._proc
            if proc is None:
                return self.returncode
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=30.0)
            return self._reap(proc)

    def _reap(self, proc: subprocess.Popen[bytes]) -> int | None:
        if proc.stdin is not None:
            try:
                proc.stdin.close()
            except OSError:
                pass
        if self._log is not None:
            self._log.close()
            self._log = None
        self.returncode = proc.returncode
        self._proc = None
        _running.discard(self)
        return self.returncode

    def __enter__(self) -> Neo4jServer:
        if self._proc is None:
            raise RuntimeError(
                "call start(data_dir) before entering the context: `with Neo4jServer().start(d) as s:`"
            )
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class _LaunchFailed(Exception):
    pass


class _PortInUse(Exception):
    pass
