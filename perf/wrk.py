"""One closed-loop run with wrk (its own process), as perf/bench.py plans it, with perf/load.py's result keys.

wrk runs one thread (`-t 1`: of the 2 cores, one is left to the server) holding one keep-alive connection per
concurrency slot (`-c`), with perf/wrk.lua: a warm-up run of its own (not counted), then the timed run. Each sends
exactly its count of requests, as load.py does (the script stops sending once the count is out and stops wrk when
every answer is in), and is bounded by `-d` (the run's max_seconds). Around the timed run: the server's CPU (and
the upstream's and the machine's) from /proc, as load.py reads it, and wrk's own CPU (getrusage of the reaped
child), the client CPU. Latency percentiles are those of every answer, shed (503) included: wrk's histogram
cannot set them apart; ops/s counts the served ones only, as load.py does.
"""

from __future__ import annotations

import json
import math
import os
import resource
import select
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

from perf import procs
from perf.load import Window, backend, tallies
from perf.wrk_fetch import Wrk

SCRIPT = Path(__file__).with_name("wrk.lua")


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _await_quota(proc: subprocess.Popen, seconds: float) -> None:
    """Wait for the script's "quota" on stderr, then SIGINT wrk: its main thread sleeps out -d otherwise, and the
    run's duration is measured up to then. Any other line on stderr is a failure (wrk runs plain GETs when its
    script does not load)."""
    deadline, said = time.monotonic() + seconds, b""
    while b"quota\n" not in said:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([proc.stderr], [], [], left)[0]:
            return
        chunk = os.read(proc.stderr.fileno(), 4096)
        if not chunk:
            return  # wrk ended by itself: -d was over before the count
        said += chunk
        if any(line not in (b"", b"quota") for line in said.split(b"\n")[:-1]):
            raise RuntimeError(f"wrk: {said.decode(errors='replace').strip()[:500]}")
    while proc.poll() is None and time.monotonic() < deadline:
        proc.send_signal(signal.SIGINT)  # again if the first one came before wrk had set its handler
        try:
            proc.wait(0.5)
        except subprocess.TimeoutExpired:
            pass


def _wrk(tool: Wrk, entry: dict, requests: int) -> dict:
    """One wrk process sending `requests` requests; the JSON line its script prints."""
    headers = ["Content-Type: application/json", *entry["header"]]
    env = {**os.environ, **tool.env, "PERF_WRK_BODY": entry["body"], "PERF_WRK_HEADERS": "\n".join(headers),
           "PERF_WRK_QUOTA": str(requests), "PERF_WRK_CONNECTIONS": str(entry["concurrency"])}
    seconds = math.ceil(entry["max_seconds"])
    args = [tool.path, "-t", "1", "-c", str(entry["concurrency"]), "-d", f"{seconds}s", "--latency",
            "--timeout", f"{math.ceil(entry.get('timeout', 30))}s", "-s", str(SCRIPT), entry["url"]]
    with procs.tracked(subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        stdin=subprocess.DEVNULL, start_new_session=True)) as proc:
        _await_quota(proc, seconds + 10)
        out, err = proc.communicate(timeout=seconds + 30)
    lines = [line for line in out.decode(errors="replace").splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"wrk exited {proc.returncode}: {err.decode(errors='replace')[-500:]}")
    return json.loads(lines[-1])


def _calls(entry: dict) -> dict | None:
    """The fake backends' counters (/perf/calls) of every worker of the server, summed. A GET on a new connection
    lands on whichever worker accepts it first, so the GETs repeat until each worker has answered (load.py sends
    them on its first client's connection instead, which reaches the worker that served that client)."""
    if not entry["stats_url"]:
        return None
    answers, deadline = {}, time.monotonic() + 10
    while len(answers) < entry["workers"]:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{len(answers)} of the {entry['workers']} workers answered {entry['stats_url']}")
        answer = procs.get_json(entry["stats_url"])
        answers[answer["pid"]] = answer
    return {"calls": dict(sum((Counter(a["calls"]) for a in answers.values()), Counter())),
            "slept": {k: sum(a["slept"][k] for a in answers.values()) for k in answer["slept"]}}


def run(tool: Wrk, entry: dict) -> dict[str, object]:
    """A plan entry of perf/bench.py (closed loop: rate 0) run by wrk."""
    if entry["warmup"]:
        _wrk(tool, entry, entry["warmup"])
    stats_before = _calls(entry)
    window, own0 = Window(entry["server_pid"], entry["upstream_pid"]), _children_cpu_s()
    out = _wrk(tool, entry, entry["requests"])
    window.close()
    own = _children_cpu_s() - own0
    stats_after = _calls(entry)
    done, shed, elapsed = out["requests"], out["shed"], out["duration_us"] / 1e6
    result: dict[str, object] = {
        **tallies("wrk", done, shed, out["errors"], out["first_error"], elapsed, entry["requests"],
                  entry["concurrency"], 0.0),
        "shed_p50_ms": None,
        **{f"p{q}_ms": round(out[f"p{q}_us"] / 1000, 3) for q in (50, 95, 99)},
        "mean_ms": round(out["mean_us"] / 1000, 3), "latency": out["latency"],
        "wrk_corrected_p99_ms": round(out["wrk_corrected_p99_us"] / 1000, 3),
        **window.figures(done, own),
    }
    if stats_before and stats_after:
        result["backend"] = backend(stats_before, stats_after)
    return result
