"""How perf/ measures: a server's CPU from its process CPU-time clock, and side-by-side ratios paired per repetition."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

from perf import load, notes, scenarios
from perf.bench import paired

BURN = """
import threading, time
def burn():
    end = time.thread_time() + 0.3
    while time.thread_time() < end:
        pass
worker = threading.Thread(target=burn)
worker.start()
worker.join()
print("done", flush=True)
time.sleep(30)
"""


def test_a_process_cpu_counts_its_exited_threads_to_the_nanosecond():
    child = subprocess.Popen([sys.executable, "-c", BURN], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline() == "done\n"  # the burning thread has exited
        cpu = load.process_cpu_s(child.pid)
        fields = open(f"/proc/{child.pid}/stat").read().rsplit(")", 1)[1].split()
        ticks = (int(fields[11]) + int(fields[12])) / load.TICK
        assert cpu >= 0.3
        assert abs(cpu - ticks) < 0.05  # the same CPU as /proc's whole ticks count...
        assert round(cpu * load.TICK) != cpu * load.TICK  # ...finer than a tick
        tree = load.tree_cpu(child.pid)  # the child may still run a few instructions on its way into sleep
        assert list(tree) == [child.pid] and cpu <= tree[child.pid] < cpu + 0.05
    finally:
        child.kill()
        child.wait()
    assert load.process_cpu_s(child.pid, ticks=1.5) == 1.5  # gone: the caller's figure


def test_a_window_reads_the_server_cpu_of_the_timed_phase_only():
    child = subprocess.Popen([sys.executable, "-c", BURN], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline() == "done\n"
        window = load.Window(child.pid)
        time.sleep(0.05)
        window.close()
        assert window.server_cpu < 0.01  # the 0.3 s burnt before the window opened are not in it
    finally:
        child.kill()
        child.wait()


def _rows(**cpu: list[float | None]) -> dict[str, dict]:
    """Rows as `Bench.interleaved` returns them: each repetition's figure, and their median."""
    return {name: {"server_cpu_ms_per_op": statistics.median([v for v in values if v] or [0]),
                   "reps": [{"server_cpu_ms_per_op": v} for v in values]} for name, values in cpu.items()}


def test_a_paired_ratio_is_the_median_of_each_repetitions_own_ratio():
    # the machine slowed both servers down in the second repetition and sped both up in the third
    rows = _rows(a=[0.20, 0.40, 0.10], b=[0.10, 0.25, 0.04])
    assert paired(rows, "a", "b", "server_cpu_ms_per_op") == 2.0  # ratios 2.0, 1.6, 2.5
    assert paired(_rows(a=[0.2, 0.3], b=[None, 0.1]), "a", "b", "server_cpu_ms_per_op") == 3.0  # a missing figure
    assert paired(_rows(a=[0.2], b=[None]), "a", "b", "server_cpu_ms_per_op") is None


def test_a_cpu_check_passes_on_the_paired_ratio_and_shows_the_ratio_of_the_medians():
    rows = _rows(ragweave=[0.14, 0.30, 0.15], rest=[0.10, 0.16, 0.11])  # ratios 1.4, 1.875, 1.36
    check = scenarios._cpu_check("CPU/op ragweave / REST", rows, "ragweave", "rest", 1.5)
    assert check["value"] == 1.4 and check["pass"]
    assert "ratio of the medians: 1.364x" in check["note"] and "ranged 1.36-1.88x" in check["note"]
    worse = scenarios._cpu_check("CPU/op", _rows(ragweave=[0.2, 0.3, 0.2], rest=[0.1, 0.16, 0.11]), "ragweave",
                                 "rest", 1.5)
    assert not worse["pass"] and worse["miss_by"] == "25% over"


def _workers(one_cpu: float, two_cpu: float, passed: bool) -> dict:
    rows = {}
    for name, ops, cpu in (("ragweave 1 worker", 4000.0, one_cpu), ("ragweave 2 workers", 7200.0, two_cpu),
                           ("rest 1 worker", 5000.0, 0.15), ("rest 2 workers", 8000.0, 0.16)):
        reps = [{"ops_per_s": ops, "server_cpu_ms_per_op": cpu, "client_cpu_ms_per_op": 0.04}] * 3
        rows[name] = {"ops_per_s": ops, "server_cpu_ms_per_op": cpu, "client_cpu_ms_per_op": 0.04, "reps": reps}
    return {"id": "e", "rows": rows, "checks": [{"pass": passed}]}


def test_a_passing_workers_ratio_is_explained_and_a_slowed_single_worker_named():
    slowed = notes.why(_workers(0.26, 0.22, passed=True))
    assert slowed.startswith("Passes in this run") and "slowing the 1-worker runs" in slowed
    assert "plain REST server scaled 1.60x in the same run" in slowed
    fair = notes.why(_workers(0.20, 0.22, passed=True))
    assert fair.startswith("Passes in this run") and "slowing" not in fair


def _overhead(ragweave_ms: float) -> dict:
    rows = {"ragweave": {"overhead_p50_ms": ragweave_ms, "p50_ms": 50 + ragweave_ms},
            "rest /retrieve": {"overhead_p50_ms": 1.4}}
    return {"id": "d", "rows": rows, "checks": [{"pass": ragweave_ms <= 2}]}


def test_the_gateway_overhead_is_explained_as_a_miss_a_thin_pass_or_a_pass():
    missed, thin, clear = (notes.why(_overhead(ms)) for ms in (2.1, 1.9, 1.5))
    assert "the target needs a cheaper op" in missed and "passes" not in missed
    assert "passes, 0.10 ms under the target, a margin within what this figure moves" in thin
    assert "passes, 0.50 ms under the target." in clear and "cheaper op" not in clear
