"""wrk, the closed-loop load generator: the one on PATH, else Debian's package unpacked under perf/out/tools.

Nothing is installed system-wide: `apt-get download` fetches wrk's .deb (and then each library that `ldd` reports
missing, by Debian's library package naming: libluajit-5.1.so.2 is in libluajit-5.1-2), `dpkg -x` unpacks them
under perf/out/tools/root, and wrk runs with LD_LIBRARY_PATH pointing at the unpacked libraries. An unpacked wrk
that runs is reused by the next perf run.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field

from perf import procs

TOOLS = procs.OUT / "tools"
ROOT = TOOLS / "root"
UNPACKED = ROOT / "usr" / "bin" / "wrk"


@dataclass(frozen=True)
class Wrk:
    path: str
    version: str  # what `wrk -v` says, e.g. "wrk debian/4.1.0-3+b2 [epoll]"
    source: str
    env: dict[str, str] = field(default_factory=dict)

    def describe(self) -> str:
        return f"{self.version} ({self.source})"


def _library_env() -> dict[str, str]:
    dirs = sorted({str(p.parent) for p in ROOT.rglob("lib*.so*")})
    return {"LD_LIBRARY_PATH": os.pathsep.join(dirs)} if dirs else {}


def _version(path: str, env: dict[str, str]) -> str | None:
    """`wrk -v` (it prints its version, then the usage, and exits 1); None if it does not run."""
    try:
        done = subprocess.run([path, "-v"], capture_output=True, text=True, timeout=10, env={**os.environ, **env})
    except OSError:
        return None
    first = done.stdout.split("Copyright", 1)[0].strip()
    return first if first.startswith("wrk ") else None


def _package(soname: str) -> str:
    """Debian's package for a library: libfoo.so.2 -> libfoo2, libfoo-5.1.so.2 -> libfoo-5.1-2."""
    name, version = soname.split(".so.", 1)
    return f"{name}-{version}" if name[-1].isdigit() else f"{name}{version}"


def _missing() -> list[str]:
    out = subprocess.run(["ldd", str(UNPACKED)], capture_output=True, text=True, env={**os.environ, **_library_env()})
    return re.findall(r"^\s*(\S+\.so\.[\d.]+) => not found", out.stdout, re.M)


def _unpack(packages: list[str]) -> str | None:
    """apt-get download + dpkg -x; an error message, or None."""
    debs = TOOLS / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    got = subprocess.run(["apt-get", "download", *packages], cwd=debs, capture_output=True, text=True, timeout=300)
    if got.returncode:
        return f"apt-get download {' '.join(packages)}: {got.stderr.strip()[-300:]}"
    for package in packages:
        for deb in debs.glob(f"{package}_*.deb"):
            subprocess.run(["dpkg", "-x", str(deb), str(ROOT)], check=True, capture_output=True, timeout=60)
    return None


def fetch() -> str | None:
    """Unpack wrk and the libraries it misses; an error message, or None."""
    if not (shutil.which("apt-get") and shutil.which("dpkg") and shutil.which("ldd")):
        return "no apt-get, dpkg or ldd on PATH"
    todo = ["wrk"]
    for _ in range(4):  # wrk, its missing libraries, theirs...
        if error := _unpack(todo):
            return error
        todo = [_package(soname) for soname in _missing()]
        if not todo:
            return None
    return f"still missing after 3 rounds: {', '.join(todo)}"


def find() -> Wrk | str:
    """wrk, or why there is none (the caller then runs closed loops with perf/load.py)."""
    on_path = shutil.which("wrk")
    if on_path and (version := _version(on_path, {})):
        return Wrk(on_path, version, f"{on_path}, on PATH")
    source = f"Debian's package, unpacked in {TOOLS.relative_to(procs.ROOT)}"
    if not (UNPACKED.exists() and _version(str(UNPACKED), _library_env())):
        try:
            error = fetch()
        except (OSError, subprocess.SubprocessError) as exc:
            error = f"{type(exc).__name__}: {exc}"
        if error:
            return f"wrk is not on PATH and could not be fetched ({error})"
    env = _library_env()
    version = _version(str(UNPACKED), env)
    return Wrk(str(UNPACKED), version, source, env) if version else f"the unpacked {UNPACKED} does not run"
