"""In-process board of ingest jobs: events are kept per job so a late subscriber replays them."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

MAX_JOBS = 256
DONE = object()


@dataclass(slots=True)
class _Job:
    events: list[Any] = field(default_factory=list)
    finished: bool = False
    changed: asyncio.Event = field(default_factory=asyncio.Event)


class JobBoard:
    def __init__(self) -> None:
        self._jobs: OrderedDict[str, _Job] = OrderedDict()

    def _job(self, job_id: str) -> _Job:
        job = self._jobs.get(job_id)
        if job is None:
            job = self._jobs[job_id] = _Job()
            while len(self._jobs) > MAX_JOBS:
                self._jobs.popitem(last=False)
        return job

    def publish(self, job_id: str, event: Any, *, final: bool = False) -> None:
        job = self._job(job_id)
        job.events.append(event)
        job.finished = job.finished or final
        job.changed.set()

    async def follow(self, job_id: str) -> AsyncIterator[Any]:
        """Every event of the job from the first, then live ones, until the final one."""
        job = self._job(job_id)
        seen = 0
        while True:
            while seen < len(job.events):
                seen += 1
                yield job.events[seen - 1]
            if job.finished:
                return
            job.changed.clear()
            await job.changed.wait()
