"""perf/ab.py compares the server CPU per op of ragweave from several checkouts under one interleaved load."""

from __future__ import annotations

from pathlib import Path

import pytest

from perf import ab, procs


def test_each_tree_serves_and_is_measured_beside_rest():
    report = ab.compare([procs.ROOT, procs.ROOT], "Small", reps=1, requests=200, concurrency=4, load="python")
    rows = [line.strip("| ").split(" | ") for line in report.splitlines() if line.startswith(("| ragweave", "| rest"))]
    assert [row[0] for row in rows] == [f"ragweave 1: {procs.ROOT} ({ab._commit(procs.ROOT)})",
                                        f"ragweave 2: {procs.ROOT} ({ab._commit(procs.ROOT)})", "rest"]
    for _, cpu, to_rest, to_first, errors, every in rows:
        assert float(cpu) > 0 and float(to_rest) > 0 and float(to_first) > 0 and errors == "0"
        assert len(every.split()) == 1
    assert rows[-1][2] == "1.000" and rows[0][3] == "1.000"


def test_a_tree_without_its_own_package_is_refused_before_any_server_starts(tmp_path: Path, monkeypatch):
    started = []
    monkeypatch.setattr(procs, "start_fake_server", lambda *args, **kwargs: started.append(args))
    with pytest.raises(RuntimeError, match="not its own"):
        ab.compare([procs.ROOT, tmp_path], "Small", reps=1, requests=10, concurrency=1, load="python")
    assert started == []
