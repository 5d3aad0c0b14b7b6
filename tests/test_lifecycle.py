"""The embedded defaults as `ragweave serve` opens them: data survives a restart; one data dir, one process."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from ragweave.datasources.lifecycle import open_datasources
from ragweave.resolvers.extraction import RuleExtractor
from ragweave.resolvers.ingest import Ingestor, SourceDocument
from ragweave.settings import Settings

DOC = SourceDocument("memo.md", "Mara Quist leads the Atlas Team. The Atlas Team builds Beacon Console.", "Memo")


async def test_embedded_data_survives_a_restart(tmp_path: Path):
    settings = Settings(data_dir=tmp_path)
    async with open_datasources(settings) as ds:
        assert ds.names["vectors"] == "qdrant-edge" and ds.names["graph"] == "falkordb"
        report = await Ingestor(ds, "default", "chunks", RuleExtractor(), 800, 120).run([DOC])
        assert report.chunks == 1 and report.entities >= 3
        counts = (await ds.vectors.count("default", "chunks"), await ds.graph.count_nodes("default"))
        assert all(b.ok for b in await ds.health())
    async with open_datasources(settings) as ds:
        assert (await ds.vectors.count("default", "chunks"), await ds.graph.count_nodes("default")) == counts
        again = await Ingestor(ds, "default", "chunks", RuleExtractor(), 800, 120).run([DOC])
        assert again.skipped == 1


def test_a_second_process_on_the_same_data_dir_is_refused(tmp_path: Path):
    script = textwrap.dedent(f"""
        import asyncio, sys
        from pathlib import Path
        from ragweave.datasources.lifecycle import open_datasources
        from ragweave.settings import Settings

        async def main():
            async with open_datasources(Settings(data_dir=Path({str(tmp_path)!r}))):
                print("OPEN", flush=True)
                sys.stdin.readline()

        asyncio.run(main())
    """)
    first = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert first.stdout.readline().strip() == "OPEN"
        second = subprocess.run([sys.executable, "-c", script], input="", capture_output=True, text=True, timeout=60)
        assert second.returncode != 0
        assert "already used by another ragweave process" in second.stderr
    finally:
        first.communicate("\n", timeout=30)
    assert first.returncode == 0
