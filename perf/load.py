"""Bounded HTTP load generator (its own process): fixed request count, fixed concurrency, optional open-loop rate.

    python -m perf.load --url URL --body JSON --requests N --concurrency C [--rate R] [--server-pid PID]
    python -m perf.load --plan runs.json     (several runs in order, one process: a JSON list out)

Prints one JSON object: ops/s, latency percentiles, errors, shed requests (HTTP 503 `OVERLOADED` from the
admission limit: counted apart, neither errors nor in ops/s and the latency percentiles, which are those of the
requests served), the server's CPU time per request (of the server process and all its descendants, read from
each one's CPU-time clock, to the nanosecond, around the timed phase only), this client's
own CPU per request (and an upstream server's, given its pid), and how busy the whole machine was meanwhile:
`other_busy_cores` is CPU used by processes that are not part of the measurement. Latency in open-loop mode
counts from the scheduled send time, so queueing in the client is not hidden. Stops at --max-seconds whatever the count.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import time
from pathlib import Path

import httpx

TICK = os.sysconf("SC_CLK_TCK")


def process_cpu_s(pid: int, ticks: float = 0.0) -> float:
    """CPU seconds (user + system) of process `pid`, every thread it ran included, from its CPU-time clock (the
    clock id glibc's `clock_getcpuclockid` makes): to the nanosecond, where /proc's utime and stime count whole
    clock ticks (10 ms here, 2-3% of a 3000-request run of the Small op). `ticks` (/proc's figure) if it is gone."""
    try:
        return time.clock_gettime(((~pid) << 3) | 2)  # CPUCLOCK_SCHED of the whole process
    except OSError:
        return ticks


def tree_cpu(pid: int) -> dict[int, float]:
    """CPU seconds (user + system) of `pid` and of each of its live descendants (nothing for no pid)."""
    if not pid:
        return {}
    stats, children = {}, {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            stats[int(entry.name)] = (int(fields[11]) + int(fields[12])) / TICK
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = {}, [pid]
    while todo:
        current = todo.pop()
        found[current] = process_cpu_s(current, stats.get(current, 0.0))
        todo.extend(children.get(current, []))
    return found


def tree_cpu_s(pid: int) -> float:
    return sum(tree_cpu(pid).values())


def machine_busy_s() -> float:
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return (sum(fields) - fields[3] - fields[4]) / TICK


class Window:
    """CPU over one timed phase, from /proc: of the server's process tree, of an upstream's (given its pid) and of
    the whole machine. The load generator's own CPU is the caller's to give."""

    def __init__(self, server_pid: int, upstream_pid: int = 0) -> None:
        self.server_pid, self.upstream_pid = server_pid, upstream_pid
        self.up0, self.per0 = tree_cpu_s(upstream_pid), tree_cpu(server_pid)
        self.busy0, self.t0 = machine_busy_s(), time.perf_counter()

    def close(self) -> None:
        self.elapsed = time.perf_counter() - self.t0
        self.per = {p: v - self.per0.get(p, 0.0) for p, v in tree_cpu(self.server_pid).items()}
        self.server_cpu, self.busy = sum(self.per.values()), machine_busy_s() - self.busy0
        self.upstream = tree_cpu_s(self.upstream_pid) - self.up0

    def figures(self, done: int, own: float) -> dict[str, object]:
        """A result's CPU figures: per request done, and in cores over the phase (`other`: not measured here)."""
        server, elapsed = self.server_cpu, self.elapsed
        result: dict[str, object] = {
            "server_cpu_ms_per_op": round(server * 1000 / done, 4) if done and self.server_pid else None,
            "client_cpu_ms_per_op": round(own * 1000 / done, 3) if done else None,
            "machine_busy_cores": round(self.busy / elapsed, 2) if elapsed else None,
            # /proc/stat counts the machine in whole ticks, the processes to the nanosecond: a few hundredths of a
            # core either way is that rounding, and no other load is none
            "other_busy_cores": round(max(0.0, self.busy - server - own - self.upstream) / elapsed, 2)
            if elapsed else None,
        }
        if len(self.per) > 1 and server > 0:  # uvicorn workers: how the work was shared between processes
            result["server_cpu_shares"] = sorted((round(v / server, 2) for v in self.per.values() if v > 0),
                                                 reverse=True)
        if self.upstream_pid and done:
            result["upstream_cpu_ms_per_op"] = round(self.upstream * 1000 / done, 3)
        return result


def tallies(generator: str, done: int, shed: int, errors: int, first_error: str | None, elapsed: float,
            requested: int, concurrency: int, rate: float) -> dict[str, object]:
    """A result's counts, the same for every load generator: `requests` answered (shed ones included), `ops_per_s`
    of the served ones only."""
    return {
        "generator": generator, "requests": done, "errors": errors, "first_error": first_error,
        "elapsed_s": round(elapsed, 3), "truncated": done < requested, "concurrency": concurrency, "rate": rate,
        "shed": shed, "shed_pct": round(100 * shed / done, 2) if done else None,
        "ops_per_s": round((done - shed) / elapsed, 1) if elapsed else None,
    }


def backend(before: dict, after: dict) -> dict[str, object]:
    """The fake backends' calls and sleeps between two GETs of perf/serve_fakes' /perf/calls."""
    calls = {k: v - before["calls"].get(k, 0) for k, v in after["calls"].items()}
    slept = {k: v - before["slept"][k] for k, v in after["slept"].items()}
    return {"calls": {k: v for k, v in calls.items() if v}, "slept_s": slept}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))] if ordered else float("nan")


class Phase:
    """One timed phase. Each concurrency slot has a client of its own holding one keep-alive connection: one
    shared httpx pool with 64 connections costs the client ~10x more CPU per request on this machine."""

    def __init__(self, clients: list[httpx.AsyncClient], args: argparse.Namespace, deadline: float) -> None:
        self.clients, self.url, self.body, self.deadline = clients, args.url, args.body.encode(), deadline
        self.headers = {"content-type": "application/json", **dict(h.split(": ", 1) for h in args.header)}
        self.latencies: list[float] = []
        self.shed: list[float] = []
        self.errors = 0
        self.first_error: str | None = None

    async def one(self, client: httpx.AsyncClient, started: float) -> None:
        shed = False
        try:
            response = await client.post(self.url, content=self.body, headers=self.headers)
            shed = response.status_code == 503 and b'"OVERLOADED"' in response.content
            failed = not shed and (response.status_code != 200 or b'"errors"' in response.content)
            detail = f"HTTP {response.status_code}: {response.text[:300]}"
        except httpx.HTTPError as exc:
            failed, detail = True, f"{type(exc).__name__}: {exc}"
        (self.shed if shed else self.latencies).append(time.perf_counter() - started)
        if failed:
            self.errors += 1
            self.first_error = self.first_error or detail

    async def closed(self, count: int, concurrency: int) -> None:
        issued = 0

        async def worker(client: httpx.AsyncClient) -> None:
            nonlocal issued
            while issued < count and time.monotonic() < self.deadline:
                issued += 1
                await self.one(client, time.perf_counter())

        await asyncio.gather(*(worker(c) for c in self.clients[:concurrency]))

    async def open(self, count: int, rate: float) -> None:
        free: asyncio.Queue[httpx.AsyncClient] = asyncio.Queue()
        for client in self.clients:
            free.put_nowait(client)
        tasks, start = [], time.perf_counter()

        async def send(scheduled: float) -> None:
            client = await free.get()
            try:
                await self.one(client, scheduled)
            finally:
                free.put_nowait(client)

        for i in range(count):
            scheduled = start + i / rate
            await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
            if time.monotonic() > self.deadline:
                break
            tasks.append(asyncio.create_task(send(scheduled)))
        await asyncio.gather(*tasks)


async def run(args: argparse.Namespace) -> dict[str, object]:
    deadline = time.monotonic() + args.max_seconds
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    async with contextlib.AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(httpx.AsyncClient(limits=limits, timeout=args.timeout))
                   for _ in range(args.concurrency)]
        client = clients[0]  # the stats requests share the first slot's connection (with 1 client: its worker)
        await Phase(clients, args, deadline).closed(args.warmup, args.concurrency)
        stats_before = (await client.get(args.stats_url)).json() if args.stats_url else None
        phase = Phase(clients, args, deadline)
        window, own0 = Window(args.server_pid, args.upstream_pid), time.process_time()
        if args.rate:
            await phase.open(args.requests, args.rate)
        else:
            await phase.closed(args.requests, args.concurrency)
        window.close()
        own = time.process_time() - own0
        stats_after = (await client.get(args.stats_url)).json() if args.stats_url else None
    served, shed, ms = len(phase.latencies), len(phase.shed), [v * 1000 for v in phase.latencies]
    done, elapsed = served + shed, window.elapsed
    result: dict[str, object] = {
        **tallies("httpx", done, shed, phase.errors, phase.first_error, elapsed, args.requests, args.concurrency,
                  args.rate),
        "shed_p50_ms": round(percentile([v * 1000 for v in phase.shed], 0.5), 3) if shed else None,
        "p50_ms": round(percentile(ms, 0.50), 3), "p95_ms": round(percentile(ms, 0.95), 3),
        "p99_ms": round(percentile(ms, 0.99), 3), "mean_ms": round(statistics.fmean(ms), 3) if ms else None,
        **window.figures(done, own),
    }
    if stats_before and stats_after:
        result["backend"] = backend(stats_before, stats_after)
    return result


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    parser.add_argument("--plan", help="a JSON file: a list of runs (objects of the options below), run in order")
    parser.add_argument("--url")
    parser.add_argument("--body", help="the JSON request body")
    parser.add_argument("--requests", type=int)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--rate", type=float, default=0.0, help="open loop: requests per second (0: closed loop)")
    parser.add_argument("--header", action="append", default=[], help="'Name: value', repeatable")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--server-pid", type=int, default=0)
    parser.add_argument("--upstream-pid", type=int, default=0, help="also count this process's CPU (e.g. the LLM)")
    parser.add_argument("--stats-url", help="GET before/after the timed phase (perf/serve_fakes /perf/calls)")
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument("--max-seconds", type=float, default=120.0, help="per run")
    return parser


async def run_all(runs: list[argparse.Namespace]) -> list[dict[str, object]]:
    return [await run(args) for args in runs]


def main() -> None:
    args = parser().parse_args()
    if args.plan:
        runs = [argparse.Namespace(**{**vars(args), **entry}) for entry in json.loads(Path(args.plan).read_text())]
    elif args.url and args.body and args.requests:
        runs = [args]
    else:
        raise SystemExit("give --plan, or --url, --body and --requests")
    try:
        from uvloop import run as run_loop
    except ImportError:
        run_loop = asyncio.run
    results = run_loop(run_all(runs))
    print(json.dumps(results if args.plan else results[0]))


if __name__ == "__main__":
    main()
