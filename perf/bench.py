"""What the scenarios share: the run mode, the operations, request bodies, the API key and the load runs."""

from __future__ import annotations

import itertools
import json
import os
import re
import statistics
from dataclasses import dataclass
from pathlib import Path

from perf import procs, wrk
from perf.wrk_fetch import Wrk

OPERATIONS = Path(__file__).with_name("operations.graphql").read_text()
QUERY = "launch plan of the Atlas team"
NUMBERS = ("ops_per_s", "p50_ms", "p95_ms", "p99_ms", "mean_ms", "server_cpu_ms_per_op", "client_cpu_ms_per_op",
           "machine_busy_cores", "other_busy_cores", "errors", "upstream_cpu_ms_per_op", "shed", "shed_pct")


@dataclass(frozen=True)
class Mode:
    name: str
    reps: int
    small: int  # requests per repetition, per scenario
    deep: int
    fused: int
    overhead: int
    scale: int
    chat: int
    embedded: bool
    max_seconds: float
    cpu_reps: int  # repetitions of (a), whose check is a ratio of CPU times a few percent from its target


QUICK = Mode("quick", reps=3, small=1000, deep=8, fused=150, overhead=60, scale=600, chat=100, embedded=False,
             max_seconds=15, cpu_reps=3)
# (e)'s runs are longer than (a)'s: at 4,000-9,000 ops/s, 3,000 requests took 0.3-0.7 s, and the 2-worker/1-worker
# ratio of one repetition moved by 30% from one to the next (ragweave 1.57-2.03x, REST 1.25-2.2x in one record)
FULL = Mode("full", reps=5, small=3000, deep=120, fused=3200, overhead=200, scale=15000, chat=2000, embedded=True,
            max_seconds=90, cpu_reps=11)


def operation(name: str) -> str:
    """The text of one named operation of perf/operations.graphql (sent alone, as clients send it)."""
    match = re.search(rf"^(query|mutation) {name}\b.*?(?=^(?:query|mutation|#) |\Z)", OPERATIONS, re.S | re.M)
    if not match:
        raise KeyError(name)
    return match.group(0).strip()


def gql(name: str, **variables: object) -> str:
    return json.dumps({"query": operation(name), "variables": variables, "operationName": name})


class Bench:
    def __init__(self, mode: Mode, api_key: str, wrk_tool: Wrk | None = None) -> None:
        self.mode = mode
        self.api_key = api_key
        self.wrk = wrk_tool  # runs the closed-loop entries; None: perf/load.py runs them all
        self.headers = [f"Authorization: Bearer {api_key}"]

    def entry(self, server: procs.Server, body: str, requests: int, concurrency: int, *, path: str = "/graphql",
              rate: float = 0.0, stats: bool = False, warmup: int | None = None, upstream_pid: int = 0) -> dict:
        """One run (perf/load.py's options, as a plan entry)."""
        return {"url": server.url(path), "body": body, "requests": requests, "concurrency": concurrency,
                "server_pid": server.pid, "rate": rate, "header": self.headers,
                "warmup": warmup if warmup is not None else max(concurrency, min(50, requests // 10)),
                "stats_url": server.url("/perf/calls") if stats else None, "max_seconds": self.mode.max_seconds,
                "upstream_pid": upstream_pid, "workers": server.workers}

    def run_plan(self, entries: list[dict]) -> list[dict]:
        """The runs in order: closed-loop ones with wrk when there is one, the others with perf/load.py."""
        results = []
        for by_wrk, group in itertools.groupby(entries, key=lambda e: bool(self.wrk and not e["rate"])):
            runs = list(group)
            results += [wrk.run(self.wrk, e) for e in runs] if by_wrk else self.run_load_py(runs)
        return results

    def run_load_py(self, entries: list[dict]) -> list[dict]:
        procs.OUT.mkdir(parents=True, exist_ok=True)
        plan = procs.OUT / f"plan-{os.getpid()}.json"
        plan.write_text(json.dumps(entries))
        timeout = len(entries) * (self.mode.max_seconds + 30)
        return procs.run_json(["-m", "perf.load", "--plan", str(plan)], timeout=timeout)

    def load(self, server: procs.Server, body: str, requests: int, concurrency: int, **options) -> dict:
        return self.run_plan([self.entry(server, body, requests, concurrency, **options)])[0]

    def post(self, server: procs.Server, body: str, path: str = "/graphql") -> dict:
        import urllib.request

        request = urllib.request.Request(server.url(path), data=body.encode(), method="POST", headers={
            "content-type": "application/json", **dict(h.split(": ", 1) for h in self.headers)})
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def interleaved(self, runs: dict[str, tuple], reps: int | None = None) -> dict[str, dict]:
        """Each repetition runs every variant once (A B A B ...), so drift in machine load hits all alike.
        Returns, per variant, the median of each number over the repetitions and the repetitions themselves."""
        order = [name for _ in range(reps or self.mode.reps) for name in runs]
        results = self.run_plan([self.entry(*runs[name][:4], **runs[name][4]) for name in order])
        return {name: summarise([r for n, r in zip(order, results, strict=True) if n == name]) for name in runs}


def summarise(results: list[dict]) -> dict:
    summary: dict[str, object] = {}
    for key in NUMBERS:
        values = [r[key] for r in results if r.get(key) is not None]
        summary[key] = round(statistics.median(values), 3) if values else None
    summary["requests_per_rep"] = results[0]["requests"]
    summary["generator"] = results[0].get("generator", "httpx")
    summary["truncated"] = any(r["truncated"] for r in results)
    summary["first_error"] = next((r["first_error"] for r in results if r["first_error"]), None)
    summary["reps"] = results
    return summary


def ratios(rows: dict[str, dict], a: str, b: str, key: str) -> list[float]:
    """a's `key` over b's in each repetition (`Bench.interleaved`'s rows), where both have a figure."""
    return [x[key] / y[key] for x, y in zip(rows[a]["reps"], rows[b]["reps"], strict=True)
            if x.get(key) and y.get(key)]


def paired(rows: dict[str, dict], a: str, b: str, key: str) -> float | None:
    """The median over the repetitions of a's `key` over b's in the same repetition: a ratio measured side by side.
    Load from outside that drifts between repetitions (here the CPU time of one repetition of the same server swings
    by 20-40%) cancels out of each ratio, where it does not out of the ratio of the two medians."""
    each = ratios(rows, a, b, key)
    return round(statistics.median(each), 3) if each else None


def meets(value: float | None, op: str, target: float) -> bool:
    return value is not None and (value <= target if op == "<=" else value >= target)


def check(metric: str, value: float | None, op: str, target: float, unit: str = "", note: str = "") -> dict:
    passed = meets(value, op, target)
    by = None
    if value is not None and not passed and target:
        by = f"{abs(value / target - 1) * 100:.0f}% {'over' if op == '<=' else 'under'}"
    return {"metric": metric, "value": value, "op": op, "target": target, "unit": unit, "pass": passed,
            "miss_by": by, "note": note}
