"""The CLI's one-line ingest progress: documents, chunks, entities, failures, rate and ETA."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TextIO

from ragweave.resolvers.ingest import ChunkDone, Report


@dataclass
class ProgressLine:
    total_documents: int
    stream: TextIO
    chunks: int = 0
    entities: int = 0
    started: float = field(default_factory=time.monotonic)

    def chunk_done(self, event: ChunkDone) -> None:
        self.chunks += 1
        self.entities += event.entities

    def document_done(self, report: Report) -> None:
        elapsed = max(time.monotonic() - self.started, 1e-6)
        rate = report.documents / elapsed
        eta = (self.total_documents - report.documents) / rate if rate else 0.0
        filled = int(20 * report.documents / max(self.total_documents, 1))
        self.stream.write(
            f"\r[{'#' * filled}{'.' * (20 - filled)}] documents {report.documents}/{self.total_documents} "
            f"chunks {self.chunks} entities {self.entities} failures {len(report.failures)} "
            f"{rate:.1f} docs/s ETA {eta:.0f}s\n"
        )
        self.stream.flush()

    def finish(self) -> None:
        self.stream.write("\n")
        self.stream.flush()
