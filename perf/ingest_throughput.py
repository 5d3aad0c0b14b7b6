"""End-to-end ingest throughput on the embedded defaults with the offline models (MiniLM, rule extractor).

    python -m perf.ingest_throughput [--copies N]

Ingests N copies of the demo corpus into a fresh temporary data dir and writes perf/INGEST.md: chunks/s, and
how the time splits between embedding and everything else (vectors, graph, extraction), from the per-call log.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from ragweave.datasources.calls import CallLog, current_call_log
from ragweave.datasources.lifecycle import open_datasources
from ragweave.demo.loader import CORPUS, read_folder
from ragweave.resolvers.extraction import RuleExtractor
from ragweave.resolvers.ingest import Ingestor
from ragweave.settings import Settings


async def run(copies: int) -> dict[str, float]:
    documents = [replace(d, id=f"copy-{k}/{d.id}") for k in range(copies) for d in read_folder(CORPUS)]
    with tempfile.TemporaryDirectory() as data_dir:
        settings = Settings(data_dir=Path(data_dir))
        async with open_datasources(settings) as ds:
            log = CallLog()
            current_call_log.set(log)
            started = time.perf_counter()
            report = await Ingestor(ds, "default", "chunks", RuleExtractor(), 800, 120).run(documents)
            total = time.perf_counter() - started
    embed = log.millis["llm.embed"] / 1000
    return {"documents": report.documents, "chunks": report.chunks, "entities": report.entities,
            "seconds": total, "chunks_per_s": report.chunks / total, "embed_s": embed,
            "other_share": (total - embed) / total, "failures": len(report.failures)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--copies", type=int, default=3)
    args = parser.parse_args()
    result = asyncio.run(run(args.copies))
    load = os.getloadavg()
    text = f"""# Ingest throughput (offline models, embedded defaults)

Command: `{" ".join([Path(sys.executable).name, "-m", "perf.ingest_throughput", *sys.argv[1:]])}`;
{datetime.now(UTC).isoformat(timespec="seconds")}, Python {platform.python_version()}, {os.cpu_count()} CPUs,
load average at the end {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} (a shared machine: expect noise).

| documents | chunks | entities | seconds | chunks/s | embedding s | everything else | failures |
|---|---|---|---|---|---|---|---|
| {result["documents"]} | {result["chunks"]} | {result["entities"]} | {result["seconds"]:.1f} | \
{result["chunks_per_s"]:.2f} | {result["embed_s"]:.1f} | {result["other_share"]:.0%} of the time | \
{result["failures"]} |

Target (performance issue): everything other than embedding <= 20% of ingest time.
"""
    (Path(__file__).parent / "INGEST.md").write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
