"""`python -m perf.instructions` runs an operation and a chatStream subscription through the ASGI app in-process
(the CPU mode: the callgrind mode runs the same code under valgrind)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent


@pytest.mark.parametrize("op", ["Small", "ChatStream"])
def test_instructions_measures_an_operation_and_a_subscription(op):
    done = subprocess.run([sys.executable, "-m", "perf.instructions", "--op", op, "--cpu", "--requests", "3",
                           "--warmup", "1"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert re.fullmatch(rf"ragweave {op}: \d+\.\d{{3}} ms CPU per request\n", done.stdout)
