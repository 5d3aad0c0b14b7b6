"""`python -m perf.instructions` runs an operation and a chatStream subscription through the ASGI app in-process
(the CPU mode: the callgrind mode runs the same code under valgrind)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from perf.instructions import wait_gaps

ROOT = Path(__file__).parent.parent
IDLE = (r", (\d+\.\d{3}) ms \(p50\) over the fakes' (\d+\.\d) ms of sleeps; outside them (\d+\.\d{3}) ms before "
        r"the first, (\d+\.\d{3}) between, (\d+\.\d{3}) after the last \(p50 each\)")


def measure(*options: str) -> str:
    done = subprocess.run([sys.executable, "-m", "perf.instructions", "--cpu", "--requests", "3", "--warmup", "1",
                           *options], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.mark.parametrize("op", ["Small", "ChatStream"])
def test_instructions_measures_an_operation_and_a_subscription(op):
    assert re.fullmatch(rf"ragweave {op}: \d+\.\d{{3}} ms CPU per request\n", measure("--op", op))


def test_idle_requests_report_their_time_over_the_injected_sleeps():
    """RetrieveWithEntities sleeps 20 + 30 ms in the fakes: what it reports is the time beyond them."""
    found = re.fullmatch(rf"ragweave RetrieveWithEntities: \d+\.\d{{3}} ms CPU per request{IDLE}\n",
                         measure("--op", "RetrieveWithEntities", "--idle"))
    # uvloop's timers count whole milliseconds from the loop's cached time: a sleep may end up to 1 ms early
    assert found and float(found.group(2)) >= 48 and 0 < float(found.group(1)) < 50
    over, _, before, between, after = map(float, found.groups())
    assert before > 0 and between > 0 and after > 0  # a vector wait, then a graph wait
    assert before + between + after < over + 1  # the parts of the same time (medians of each, not of their sum)


def test_wait_gaps_split_a_requests_time_outside_its_waits():
    assert wait_gaps(0.0, [(1.0, 3.0), (5.0, 6.0)], 10.0) == (1.0, 2.0, 4.0)
    assert wait_gaps(0.0, [(4.0, 6.0), (1.0, 3.0), (2.0, 3.5)], 7.0) == (1.0, 0.5, 1.0)  # overlapping: one span
    assert wait_gaps(2.0, [], 5.0) == (3.0, 0.0, 0.0)


@pytest.mark.parametrize(("op", "skip"), [("Small", "pipeline"), ("RetrieveWithEntities", "pipeline"),
                                        ("Small", "execution")])
def test_the_runs_without_the_pipeline_answer_the_same_data(op, skip):
    """The experiment skips Strawberry's pipeline, or execution as well (perf/pipeline_floor.py); it measures
    only after its answer matched the normal one."""
    assert re.fullmatch(rf"ragweave {op}: \d+\.\d{{3}} ms CPU per request\n", measure("--op", op, "--skip", skip))


def test_the_floor_without_its_parts_answers_the_same_data():
    """`--drop` leaves parts of the per-request work out of the floor, one request's context serving the next."""
    every_part = "context,cost,limiter,deadline,metrics"
    assert re.fullmatch(r"ragweave Small: \d+\.\d{3} ms CPU per request\n",
                        measure("--op", "Small", "--skip", "execution", "--drop", every_part))


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="the callgrind mode needs valgrind")
def test_callgrind_counts_instructions_and_cache_misses():
    done = subprocess.run([sys.executable, "-m", "perf.instructions", "--op", "Small", "--requests", "2", "--warmup",
                           "1", "--cache"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    found = re.fullmatch(r"ragweave Small: (\d+) instructions per request\n  first-level cache misses per request: "
                         r"instructions (\d+), data (\d+) \((\d+) reads, (\d+) writes\)\n", done.stdout)
    assert found, done.stdout
    instructions, code, data, reads, writes = map(int, found.groups())
    assert instructions > 100_000 and 0 < code < instructions and data == reads + writes > 0


def test_idle_sleeps_can_be_shortened():
    """`--wait-ms 1,1`: one vector and one graph call of 1 ms each, so the sleeps come to about 2 ms (uvloop may end
    a 1 ms sleep early: its timers count whole milliseconds from the loop's cached time)."""
    found = re.fullmatch(rf"ragweave RetrieveWithEntities: \d+\.\d{{3}} ms CPU per request{IDLE}\n",
                         measure("--op", "RetrieveWithEntities", "--idle", "--wait-ms", "1,1"))
    assert found and 0 < float(found.group(2)) < 10


def test_wait_ms_needs_idle():
    done = subprocess.run([sys.executable, "-m", "perf.instructions", "--cpu", "--wait-ms", "1,1"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "--wait-ms sets --idle's sleeps" in done.stderr
