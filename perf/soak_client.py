"""The soak's load (its own process): C clients run the weighted mix of perf/soak_ops.py until the deadline.

    python -m perf.soak_client --url http://127.0.0.1:P --server-pid PID --keys KEYS.json
                               [--seconds 600] [--concurrency 64] [--sample-s 10]

KEYS.json is {"writers": [secret, ...], "admin": secret}: client i sends writers[i % len] (one key per client, as
separate users would; the rate limit is per key) and the admin key for `graphQuery`.
Each client holds one keep-alive HTTP connection (as in perf/load.py); streams go over SSE on that connection or
over a fresh WebSocket (graphql-transport-ws). Every --sample-s the server's memory (RSS and open descriptors of
the server process and all its descendants, from /proc) and CPU time are sampled, and /metrics is scraped.
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import time
from collections import Counter, defaultdict
from pathlib import Path

import httpx
import websockets

from perf import soak_ops
from perf.load import machine_busy_s, percentile, tree_cpu
from perf.soak_ops import MIX, Op, Pool


def process_memory(pid: int) -> dict[str, float]:
    """RSS in MiB (and its anonymous part: heap, not mapped files) and open descriptors of one process."""
    status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)

    def mib(key: str) -> float:
        return int(status.get(key, "0 kB").split()[0]) / 1024

    return {"name": status["Name"].strip(), "rss_mib": mib("VmRSS"), "anon_mib": mib("RssAnon"),
            "fds": len(list(Path(f"/proc/{pid}/fd").iterdir()))}


def tree_usage(pid: int) -> dict[str, object]:
    """Memory, descriptors and CPU seconds so far of the server and its live descendants (the FalkorDB child)."""
    processes = {}
    for child, cpu_s in tree_cpu(pid).items():
        with contextlib.suppress(OSError, KeyError):
            processes[child] = {**process_memory(child), "cpu_s": round(cpu_s, 2)}
    return {"rss_mib": round(sum(p["rss_mib"] for p in processes.values()), 1),
            "processes": {f"{p['name']}:{pid}": {"rss_mib": round(p["rss_mib"], 1), "anon_mib": round(p["anon_mib"], 1),
                                                  "fds": p["fds"], "cpu_s": p["cpu_s"]}
                          for pid, p in processes.items()}}


Outcome = tuple[list[str], str, dict | None]  # error codes, the answer (for examples), data (to learn ids from)


class Recorder:
    def __init__(self) -> None:
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.errors: Counter[str] = Counter()
        self.op_errors: dict[str, Counter[str]] = defaultdict(Counter)
        self.deliberate: Counter[str] = Counter()
        self.degraded: Counter[str] = Counter()
        self.examples: list[str] = []  # the first three of each error code
        self.started = time.monotonic()
        self.cost = 0
        self.window: list[float] = []  # latencies since the last sample

    def done(self, op: Op, seconds: float, codes: list[str], detail: str) -> None:
        self.latency[op.name].append(seconds * 1000)
        self.window.append(seconds * 1000)
        if op.expect and codes == [op.expect]:
            self.deliberate[op.expect] += 1
            return
        codes = codes or (["UNEXPECTED_SUCCESS"] if op.expect else [])
        for code in codes:
            self.errors[code] += 1
            self.op_errors[op.name][code] += 1
        for code in dict.fromkeys(codes):
            if self.errors[code] <= 3:
                at = time.monotonic() - self.started
                self.examples.append(f"{code} in {op.name} at {at:.0f} s, after {seconds * 1000:.0f} ms: "
                                     f"{detail[:400]}")


def result_codes(payload: dict) -> list[str]:
    codes = [(e.get("extensions") or {}).get("code") or "NO_CODE" for e in payload.get("errors") or ()]
    return codes + soak_ops.problems(payload.get("data"))


class Soak:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args, self.url = args, args.url.rstrip("/")
        self.keys = json.loads(Path(args.keys).read_text())
        self.texts = soak_ops.operations()
        self.pool = Pool(random.Random(args.seed))
        self.weights = [op.weight for op in MIX]
        self.rec = Recorder()
        self.samples: list[dict] = []

    def body(self, op: Op, variables: dict) -> dict:
        return {"query": self.texts[op.operation], "variables": variables, "operationName": op.operation}

    def headers(self, op: Op, slot: int) -> dict[str, str]:
        key = self.keys["admin"] if op.key == "admin" else self.keys["writers"][slot % len(self.keys["writers"])]
        return {"authorization": f"Bearer {key}"}

    async def http(self, client: httpx.AsyncClient, op: Op, variables: dict, slot: int) -> Outcome:
        response = await client.post(f"{self.url}/graphql", json=self.body(op, variables),
                                     headers=self.headers(op, slot))
        if response.status_code != 200:
            return [f"HTTP_{response.status_code}"], response.text, None
        payload = response.json()
        self.rec.cost += ((payload.get("extensions") or {}).get("cost") or {}).get("estimated", 0)
        self.rec.degraded.update(((payload.get("data") or {}).get("retrieve") or {}).get("degraded", []))
        return result_codes(payload), json.dumps(payload.get("errors") or payload)[:400], payload.get("data")

    async def sse(self, client: httpx.AsyncClient, op: Op, variables: dict, slot: int) -> Outcome:
        headers = {**self.headers(op, slot), "accept": "text/event-stream"}
        codes, last = [], ""
        async with client.stream("POST", f"{self.url}/graphql", json=self.body(op, variables),
                                 headers=headers) as response:
            if response.status_code != 200:
                return [f"HTTP_{response.status_code}"], (await response.aread()).decode(), None
            async for line in response.aiter_lines():
                if line.startswith("data:") and line[5:].strip():
                    last = line[5:].strip()
                    codes += result_codes(json.loads(last))
        return codes + self.finished(last), last, None

    async def ws(self, op: Op, variables: dict, slot: int) -> Outcome:
        ws_url = "ws" + self.url.removeprefix("http") + "/graphql"
        codes, last = [], ""
        async with websockets.connect(ws_url, subprotocols=["graphql-transport-ws"], open_timeout=10) as ws:
            await ws.send(json.dumps({"type": "connection_init", "payload": self.headers(op, slot)}))
            ack = json.loads(await ws.recv())
            if ack["type"] != "connection_ack":
                return ["WS_NO_ACK"], json.dumps(ack), None
            await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": self.body(op, variables)}))
            async for raw in ws:
                message = json.loads(raw)
                if message["type"] == "next":
                    last = json.dumps(message["payload"])
                    codes += result_codes(message["payload"])
                elif message["type"] == "error":
                    return [*codes, "WS_ERROR"], str(raw), None
                elif message["type"] == "complete":
                    break
        return codes + self.finished(last), last, None

    @staticmethod
    def finished(last: str) -> list[str]:
        """A chat stream must end with ChatDone (or ChatFailed, already counted)."""
        return [] if '"ChatDone"' in last or '"ChatFailed"' in last else ["STREAM_INCOMPLETE"]

    async def one(self, client: httpx.AsyncClient, op: Op, slot: int) -> None:
        variables = op.variables(self.pool)
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self.args.timeout):
                if op.transport == "sse":
                    codes, detail, data = await self.sse(client, op, variables, slot)
                elif op.transport == "ws":
                    codes, detail, data = await self.ws(op, variables, slot)
                else:
                    codes, detail, data = await self.http(client, op, variables, slot)
        except (httpx.HTTPError, OSError, websockets.WebSocketException, TimeoutError, ValueError) as exc:
            codes, detail, data = [f"TRANSPORT:{type(exc).__name__}"], f"{type(exc).__name__}: {exc}", None
        self.rec.done(op, time.perf_counter() - started, codes, detail)
        if not codes:
            soak_ops.learn(self.pool, op, variables, data)

    async def worker(self, client: httpx.AsyncClient, slot: int, deadline: float) -> None:
        while time.monotonic() < deadline:
            [op] = self.pool.rng.choices(MIX, self.weights)
            await self.one(client, op, slot)

    async def sample(self, client: httpx.AsyncClient, t0: float) -> None:
        metrics_ok = None
        with contextlib.suppress(httpx.HTTPError):
            metrics_ok = (await client.get(f"{self.url}/metrics")).status_code == 200
        if metrics_ok is False or metrics_ok is None:
            self.rec.errors["METRICS_SCRAPE"] += 1
        window, self.rec.window = self.rec.window, []
        self.samples.append({
            "t_s": round(time.monotonic() - t0, 1), **tree_usage(self.args.server_pid),
            "machine_busy_s": round(machine_busy_s(), 1), "client_cpu_s": round(time.process_time(), 1),
            "ops": sum(len(v) for v in self.rec.latency.values()), "errors": sum(self.rec.errors.values()),
            "window_ops": len(window), "window_p99_ms": round(percentile(window, 0.99), 1) if window else None,
            "cost_units": self.rec.cost,
        })

    async def sampler(self, client: httpx.AsyncClient, t0: float, deadline: float) -> None:
        while time.monotonic() < deadline:
            await asyncio.sleep(min(self.args.sample_s, max(0.0, deadline - time.monotonic())))
            await self.sample(client, t0)

    async def cleanup(self, client: httpx.AsyncClient) -> int:
        """Delete what the run ingested and did not delete; returns how many (counted as delete-document ops)."""
        [delete] = [op for op in MIX if op.name == "delete-document"]
        left = len(self.pool.ingested)
        while self.pool.ingested:
            await self.one(client, delete, 0)
        return left

    async def run(self) -> dict:
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        async with contextlib.AsyncExitStack() as stack:
            clients = [await stack.enter_async_context(httpx.AsyncClient(limits=limits, timeout=self.args.timeout))
                       for _ in range(self.args.concurrency + 1)]
            t0 = time.monotonic()
            await self.sample(clients[-1], t0)
            deadline = t0 + self.args.seconds
            sampling = asyncio.create_task(self.sampler(clients[-1], t0, deadline))
            await asyncio.gather(*(self.worker(c, i, deadline) for i, c in enumerate(clients[:-1])))
            elapsed = time.monotonic() - t0
            await sampling
            await self.sample(clients[-1], t0)
            left = await self.cleanup(clients[0])
        return self.summary(elapsed, left)

    def summary(self, elapsed: float, cleaned: int) -> dict:
        everything = [v for values in self.rec.latency.values() for v in values]
        per_op = {op.name: self.figures(self.rec.latency.get(op.name, []), elapsed)
                  | {"errors": dict(self.rec.op_errors.get(op.name, {}))} for op in MIX}
        return {"seconds": round(elapsed, 1), "concurrency": self.args.concurrency, "seed": self.args.seed,
                **self.figures(everything, elapsed), "errors": dict(self.rec.errors),
                "deliberate": dict(self.rec.deliberate), "degraded": dict(self.rec.degraded),
                "error_examples": self.rec.examples, "cleanup_deleted": cleaned, "per_op": per_op,
                "weights": {op.name: op.weight for op in MIX}, "samples": self.samples}

    @staticmethod
    def figures(ms: list[float], elapsed: float) -> dict:
        return {"ops": len(ms), "ops_per_s": round(len(ms) / elapsed, 2) if elapsed else None,
                **{f"p{q}_ms": round(percentile(ms, q / 100), 1) if ms else None for q in (50, 95, 99)},
                "max_ms": round(max(ms), 1) if ms else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--server-pid", type=int, required=True)
    parser.add_argument("--keys", required=True, help='a JSON file: {"writers": [secret, ...], "admin": secret}')
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--sample-s", type=float, default=10)
    parser.add_argument("--timeout", type=float, default=30)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    try:
        from uvloop import run as run_loop
    except ImportError:
        run_loop = asyncio.run
    print(json.dumps(run_loop(Soak(args).run())))


if __name__ == "__main__":
    main()
