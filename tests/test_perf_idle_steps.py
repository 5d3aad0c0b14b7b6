"""`python -m perf.idle_steps` times each layer of an idle RetrieveWithEntities request up to its first wait."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from perf.idle_steps import STEPS, steps

ROOT = Path(__file__).parent.parent


def test_each_step_runs_from_its_first_reading_to_the_next_steps():
    readings = [("view", 1.0), ("schema", 1.5), ("search batch", 2.5), ("search batch", 60.0)]
    assert steps(0.5, readings, 3.0) == [("request", 0.5), ("view", 0.5), ("schema", 1.0), ("search batch", 0.5)]
    assert steps(0.0, [], 2.0) == [("request", 2.0)]  # no layer entered before the wait: all of it is the request's


def test_every_layer_of_the_path_is_entered_once_before_the_first_wait_in_order():
    done = subprocess.run([sys.executable, "-m", "perf.idle_steps", "--requests", "3"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    *step_lines, summary = done.stdout.splitlines()
    names = [re.fullmatch(r" *(.+) -> next: (\d+\.\d{3}) ms", line).group(1) for line in step_lines]
    assert names == ["request", *(name for _, _, name in STEPS)]  # a renamed function would drop its step
    found = re.fullmatch(r"before the first wait \(sum of the steps' medians\): (\d+\.\d{3}) ms; between the waits "
                         r"(\d+\.\d{3}) ms; after the last (\d+\.\d{3}) ms \(p50 each, 3 requests\)", summary)
    assert found and all(float(part) > 0 for part in found.groups())
