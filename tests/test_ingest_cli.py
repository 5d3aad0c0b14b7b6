"""`ragweave ingest` killed mid-run and re-run ends in the same state as an uninterrupted run."""

from __future__ import annotations

import fcntl
import signal
import subprocess
import sys
import time
from pathlib import Path

from ragweave.datasources.lifecycle import open_datasources
from ragweave.settings import Settings

PEOPLE = ["Mara Quist", "Ilya Brandt", "Tomas Reyes", "Priya Nandan", "Dario Kent", "Noor Haddad"]
TEAMS = ["Atlas Team", "Platform Team", "Signal Team"]
EDGES = "MATCH (:Entity {tenant: 'default'})-[r]->() RETURN count(r) AS edges"


def write_corpus(folder: Path, documents: int = 14) -> None:
    folder.mkdir()
    for n in range(documents):
        person, team = PEOPLE[n % len(PEOPLE)], TEAMS[n % len(TEAMS)]
        sentences = [f"{person} leads the {team}.", f"The {team} builds Product {n}.",
                     f"{PEOPLE[(n + 1) % len(PEOPLE)]} works at Lumen Harbor Labs."] * 6
        (folder / f"note-{n:02d}.md").write_text(f"# Note {n}\n\n" + " ".join(sentences), encoding="utf-8")


def ingest(folder: Path, data_dir: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "ragweave", "ingest", str(folder), "--data-dir", str(data_dir)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_unlock(data_dir: Path, timeout: float = 30.0) -> None:
    """The killed run's FalkorDB child exits on its parent-death signal and releases the data dir."""
    deadline = time.monotonic() + timeout
    with open(data_dir / "graph" / "ragweave.lock", "a+") as lock:
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                fcntl.flock(lock, fcntl.LOCK_UN)
                return
            except BlockingIOError:
                assert time.monotonic() < deadline, "the killed run left its data dir locked"
                time.sleep(0.1)


async def state(data_dir: Path) -> tuple[int, int, int, list[str]]:
    async with open_datasources(Settings(data_dir=data_dir)) as ds:
        page = await ds.graph.list_entities("default", search=None, kind=None, first=1000, after=None)
        edges = await ds.graph.user_query(EDGES, {}, 10, 10)
        return (await ds.vectors.count("default", "chunks"), await ds.graph.count_nodes("default"),
                edges[0]["edges"], [e.id for e in page.entities])


async def test_an_interrupted_ingest_resumes_to_the_same_state(tmp_path: Path):
    folder = tmp_path / "corpus"
    write_corpus(folder)
    clean = ingest(folder, tmp_path / "clean")
    out, err = clean.communicate(timeout=300)
    assert clean.returncode == 0, err
    assert "documents 14 (unchanged 0)" in out and "failures 0" in out
    chunks = int(out.split("chunks ")[1].split(",")[0])
    assert (f"vector index of chunks: {chunks} of {chunks} vectors outside it, nothing built (the minimum is 20000, "
            "RAGWEAVE_VECTOR_INDEX_MIN)") in out  # ingest ends with the index build, which waits for 20k vectors

    interrupted = ingest(folder, tmp_path / "interrupted")
    assert interrupted.stderr is not None
    for line in interrupted.stderr:
        if "documents 3/14" in line:
            interrupted.send_signal(signal.SIGKILL)
            break
    interrupted.wait(timeout=60)
    assert interrupted.returncode == -signal.SIGKILL
    wait_for_unlock(tmp_path / "interrupted")

    resumed = ingest(folder, tmp_path / "interrupted")
    out, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err
    skipped = int(out.split("(unchanged ")[1].split(")")[0])
    assert 3 <= skipped < 14  # finished documents were skipped by content hash

    assert await state(tmp_path / "interrupted") == await state(tmp_path / "clean")
