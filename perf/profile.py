"""Where a server spends its CPU during a load run: py-spy (sampling, from PyPI) on the server and its workers.

The raw collapsed stacks go to perf/out/profile-<name>.txt; the summary is the share of on-CPU samples by
package (self time), the top functions by self time, and the top functions by inclusive time.
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

from perf import procs

_LINE = re.compile(r":\d+\)$")
WRAPPERS = ("BodySizeLimit.__call__ (", "PersistedQueriesMixin.execute_")  # ragweave frames around whole requests
_FRAME = re.compile(r"^\S.* \(.+\)$")  # "function (file:line)"; drops the process/command-line pseudo-frames


def py_spy() -> str | None:
    return shutil.which("py-spy") or next(
        (str(p) for p in [Path(sys.executable).with_name("py-spy")] if p.exists()), None)


def record(name: str, server: procs.Server, run_load) -> dict:
    """Sample `server` (and its worker processes) while `run_load()` runs; returns the summary. Only threads that
    hold the GIL are sampled (Python at work, not idle pool threads). py-spy pauses the
    process for each sample (accurate stacks; --nonblocking misattributes frames), so the profiled run's own
    figures are not used."""
    spy = py_spy()
    if spy is None:
        return {"error": "py-spy is not installed (pip install py-spy)"}
    out = procs.OUT / f"profile-{name}.txt"
    spying = subprocess.Popen([spy, "record", "--pid", str(server.pid), "--subprocesses", "--rate", "250",
                               "--format", "raw", "--output", str(out), "--gil"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    with procs.tracked(spying) as proc:
        try:
            run_load()
        finally:
            proc.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
            proc.wait(30)
    return summarise(out) if out.exists() else {"error": "py-spy wrote nothing (ptrace not permitted?)"}


def _package(frame: str) -> str:
    where = frame[frame.rfind("(") + 1 : -1]
    if where.startswith("<"):
        return "python (frozen)"
    return where.split("/", 1)[0].removesuffix(".py")


def summarise(path: Path, top: int = 10) -> dict:
    total, self_fn, self_pkg, inclusive = 0, Counter(), Counter(), Counter()
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        frames = [_LINE.sub(")", f) for f in stack.split(";") if _FRAME.match(f) and not f.startswith("process ")]
        if not frames:
            continue
        total += n
        self_fn[frames[-1]] += n
        self_pkg[_package(frames[-1])] += n
        for frame in set(frames):
            inclusive[frame] += n

    def share(counter: Counter, keep=lambda f, v: True, limit: int = top) -> list[list]:
        return [[f, round(100 * v / total, 1)] for f, v in counter.most_common() if keep(f, v)][:limit]

    middle = lambda f, v: 0.04 * total < v < 0.9 * total  # noqa: E731 - drop the near-100% entry frames
    own = lambda f, v: "(ragweave/" in f and v < 0.9 * total and not f.startswith(WRAPPERS)  # noqa: E731
    return {"samples": total, "self_by_package_pct": share(self_pkg), "top_self_pct": share(self_fn),
            "top_inclusive_pct": share(inclusive, middle), "ragweave_inclusive_pct": share(inclusive, own, 8),
            } if total else {"samples": 0}
