"""Where (d)'s request spends its time before the first backend wait: `python -m perf.idle_steps`.

RetrieveWithEntities runs through the ASGI app in-process over the fakes with (d)'s latencies (20 ms per vector
call, 30 ms per graph call), each request after the process idled, as at concurrency 1. A clock reading is taken
on entering each layer of the request's path (`STEPS`: ragweave's middleware and its limits, the view, the
context, the query lane, the direct run, the resolver, the search batch) and at the start of the first injected
wait; it prints the median time from each reading to the next, then the time between the waits and after the last, as
`perf.instructions --cpu --idle` splits them. Each reading is a wrapper around the layer's function, which adds
about a microsecond to the step it ends. What it answers: whether one step holds the time (something to remove) or
the time is spread along the path (every step slower after an idle period than under load).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import itertools
import statistics
import time
from collections.abc import Callable
from typing import Any

from perf.instructions import IDLE_WAITS_MS, _request, _serve, serving, use_fakes, wait_gaps

# (module, attribute path, step name): the functions a plain POST of RetrieveWithEntities enters, in order
STEPS = (
    ("ragweave.front", "Front.__call__", "front"),
    ("ragweave.admission", "Admission.enter", "admission limit"),
    ("ragweave.limits", "BodySizeLimit.serve", "body size limit"),
    ("ragweave.plain_post", "PlainPostMixin.run", "view"),
    ("ragweave.app", "GraphQLView.get_context", "context and caller"),
    ("ragweave.schema", "Schema.execute", "schema"),
    ("ragweave.schema.query_lane", "QueryLane.execute", "query lane"),
    ("ragweave.schema.direct_root", "DirectRun.execute_operation", "direct run"),
    ("ragweave.resolvers.retrieval", "retrieve", "resolver"),
    ("ragweave.loaders", "Loaders._search", "search batch"),
)
_readings: list[tuple[str, float]] = []


def _reading(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    if asyncio.iscoroutinefunction(function):
        @functools.wraps(function)
        async def entered_async(*args: Any, **kwargs: Any) -> Any:
            _readings.append((name, time.perf_counter()))
            return await function(*args, **kwargs)

        return entered_async

    @functools.wraps(function)
    def entered(*args: Any, **kwargs: Any) -> Any:
        _readings.append((name, time.perf_counter()))
        return function(*args, **kwargs)

    return entered


def install() -> None:
    """Wraps each step's function where its callers look it up (the class attribute, or the module attribute)."""
    import importlib

    for module_name, path, name in STEPS:
        owner: Any = importlib.import_module(module_name)
        *parents, attribute = path.split(".")
        for parent in parents:
            owner = getattr(owner, parent)
        setattr(owner, attribute, _reading(name, getattr(owner, attribute)))


def steps(start: float, readings: list[tuple[str, float]], first_wait: float) -> list[tuple[str, float]]:
    """Each step's time: from its first reading to the next step's (the last step's: to the first wait). A step
    entered again later (a second batch) counts from its first entry only; a step not entered is left out."""
    first: dict[str, float] = {}
    for name, at in readings:
        if at <= first_wait:
            first.setdefault(name, at)
    marks = [("request", start), *sorted(first.items(), key=lambda item: item[1]), ("first wait", first_wait)]
    return [(name, ended - began) for (name, began), (_, ended) in itertools.pairwise(marks)]


async def _measure(requests: int) -> list[str]:
    from perf import fakes

    app, state, lifespan, key = await serving()
    request = _request("ragweave", "RetrieveWithEntities", key, None)
    for _ in range(50):
        await _serve(app, state, *request)
    install()
    per_step: dict[str, list[float]] = {}
    between, after = [], []
    for _ in range(requests):
        _readings.clear()
        fakes.WAITS = []
        await asyncio.sleep(0.03)  # idle, as between two requests at concurrency 1
        began = time.perf_counter()
        await _serve(app, state, *request)
        ended = time.perf_counter()
        for name, took in steps(began, _readings, fakes.WAITS[0][0]):
            per_step.setdefault(name, []).append(took)
        _, gap_between, gap_after = wait_gaps(began, fakes.WAITS, ended)
        between.append(gap_between)
        after.append(gap_after)
    lifespan.cancel()
    lines = [f"{name:>20} -> next: {statistics.median(times) * 1000:.3f} ms" for name, times in per_step.items()]
    before = sum(statistics.median(times) for times in per_step.values())
    lines.append(f"before the first wait (sum of the steps' medians): {before * 1000:.3f} ms; "
                 f"between the waits {statistics.median(between) * 1000:.3f} ms; "
                 f"after the last {statistics.median(after) * 1000:.3f} ms (p50 each, {requests} requests)")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m perf.idle_steps", description=__doc__)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    use_fakes("ragweave", IDLE_WAITS_MS)
    try:
        from uvloop import run
    except ImportError:
        run = asyncio.run
    print("\n".join(run(_measure(args.requests))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
