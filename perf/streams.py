"""Many concurrent `chatStream` subscriptions against one ragweave server (its own process, like perf/load.py).

    python -m perf.streams --url ws://127.0.0.1:P/graphql --key K --upstream http://127.0.0.1:Q/v1 \\
        --subscriptions 1000 --ramp 3 [--server-pid PID] [--upstream-pid PID]

One WebSocket per subscription (graphql-transport-ws, as one browser tab holds one). A warm-up batch runs first.
Then every connection is opened and acknowledged (not timed), and each sends one `subscribe`, the sends spread
evenly over --ramp seconds, and reads until ChatDone. Per subscription: time from its scheduled send to the first
ChatDelta (TTFT) and to ChatDone. Lost: the connection failed to open or closed, or the subscription ended
without ChatDone (ChatFailed, an error, `complete` first), or had no ChatDone within --max-seconds.

The upstream's own TTFT is measured in this process by direct streaming requests (httpx) to the OpenAI test
server: --probes of them right before the subscriptions (idle), and --probes spread over the ramp, while the
subscriptions run (the check's reference: same upstream, same machine load, same client loop). Both count from
the scheduled send to the first SSE event with non-empty content, the event ragweave turns into the first ChatDelta.

Prints one JSON object: counts, TTFT and total percentiles, CPU of the server (and its descendants), of the
upstream and of this client over the timed phase (from /proc), and how long the server's threads waited for a
CPU while runnable (/proc/<pid>/task/*/schedstat): time the machine's other work took from it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import time
from pathlib import Path

import httpx
from websockets.asyncio.client import ClientConnection, connect

from perf.load import machine_busy_s, percentile, tree_cpu, tree_cpu_s

# The upstream of the scenario (perf/openai_process.py): first SSE event after FIRST_TOKEN_S, the next ones
# CHUNK_DELAY_S apart; the reply echoes WORDS words after "Echo:", so the first content arrives after both.
FIRST_TOKEN_S = 0.3
CHUNK_DELAY_S = 0.25
WORDS = 8
SUBSCRIPTION = """subscription Stream($m: String!) {
  chatStream(input: {messages: [{role: "user", content: $m}]}) {
    __typename ... on ChatDelta { text } ... on ChatDone { finishReason } ... on ChatFailed { code message }
  }
}"""


def nofile_at_least(need: int) -> int:
    """Raise this process's soft limit on open files towards `need` (children inherit it); returns the limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < need:
        soft = need if hard == resource.RLIM_INFINITY else min(need, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    return soft


def runqueue_wait_s(pids: list[int]) -> float:
    """Seconds the threads of these processes spent runnable but waiting for a CPU (since they started)."""
    total = 0.0
    for pid in pids:
        for task in Path(f"/proc/{pid}/task").glob("*/schedstat"):
            try:
                total += int(task.read_text().split()[1]) / 1e9
            except (OSError, IndexError, ValueError):
                continue
    return total


def message(words: int) -> str:
    return " ".join(f"w{i}" for i in range(words))


class Stream:
    """One subscription on its own connection."""

    __slots__ = ("done", "first_delta", "outcome", "scheduled", "ws")

    def __init__(self) -> None:
        self.ws: ClientConnection | None = None
        self.scheduled = self.first_delta = self.done = 0.0
        self.outcome = "not opened"

    async def open(self, url: str, key: str, gate: asyncio.Semaphore) -> None:
        init = json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {key}"}})
        async with gate:
            try:
                self.ws = await connect(url, subprotocols=["graphql-transport-ws"], compression=None,
                                        ping_interval=None, open_timeout=30)
                await self.ws.send(init)
                ack = json.loads(await asyncio.wait_for(self.ws.recv(), 30))
                self.outcome = "open" if ack.get("type") == "connection_ack" else f"no ack: {ack}"
            except Exception as exc:  # counted as lost, with its reason
                self.outcome = f"open failed: {type(exc).__name__}: {exc}"

    async def run(self, at: float, body: str) -> None:
        await asyncio.sleep(max(0.0, at - time.perf_counter()))
        self.scheduled = at
        assert self.ws is not None
        try:
            await self.ws.send(body)
            self.outcome = "closed before ChatDone"
            async for raw in self.ws:
                msg = json.loads(raw)
                kind = msg.get("type")
                if kind == "next":
                    event = (msg["payload"].get("data") or {}).get("chatStream") or {}
                    name = event.get("__typename")
                    if name == "ChatDelta" and not self.first_delta:
                        self.first_delta = time.perf_counter()
                    elif name == "ChatDone":
                        self.done = time.perf_counter()
                        self.outcome = "completed"
                    elif name != "ChatDelta":
                        self.outcome = f"failed: {json.dumps(msg['payload'])[:200]}"
                elif kind == "error":
                    self.outcome = f"error: {json.dumps(msg.get('payload'))[:200]}"
                    return
                elif kind == "complete":
                    if not self.done:
                        self.outcome = "complete without ChatDone"
                    return
        except Exception as exc:
            self.outcome = f"{type(exc).__name__}: {exc}"


async def upstream_ttft(client: httpx.AsyncClient, url: str, words: int) -> float | None:
    """Seconds from sending a streaming completion to its first non-empty content delta (None: it failed)."""
    body = {"model": "gpt-4o-mini", "stream": True, "messages": [{"role": "user", "content": message(words)}]}
    started, first = time.perf_counter(), None
    try:
        async with client.stream("POST", f"{url}/chat/completions", json=body) as response:
            async for line in response.aiter_lines():
                if first is None and line.startswith("data: {") and '"content": "' in line \
                        and '"content": ""' not in line:
                    first = time.perf_counter() - started
    except httpx.HTTPError:
        return None
    return first


async def probes_at(client: httpx.AsyncClient, url: str, words: int, times: list[float]) -> list[float | None]:
    async def one(at: float) -> float | None:
        await asyncio.sleep(max(0.0, at - time.perf_counter()))
        late = time.perf_counter() - at  # counted like the subscriptions: from the scheduled time
        ttft = await upstream_ttft(client, url, words)
        return None if ttft is None else ttft + late

    return await asyncio.gather(*(one(t) for t in times))


async def open_all(streams: list[Stream], args: argparse.Namespace) -> list[Stream]:
    """Opens every connection; returns those acknowledged."""
    gate = asyncio.Semaphore(args.open_concurrency)
    await asyncio.gather(*(s.open(args.url, args.key, gate) for s in streams))
    return [s for s in streams if s.outcome == "open"]


async def run_all(ready: list[Stream], args: argparse.Namespace, start: float, bound: float) -> None:
    """Runs one subscription per open connection, the sends spread over the ramp, for at most `bound` seconds."""
    body = json.dumps({"id": "1", "type": "subscribe", "payload": {
        "query": SUBSCRIPTION, "variables": {"m": message(args.words)}, "operationName": "Stream"}})
    start = max(start, time.perf_counter())
    tasks = [asyncio.create_task(s.run(start + i * args.ramp / max(1, len(ready)), body)) for i, s in enumerate(ready)]
    _, pending = await asyncio.wait(tasks, timeout=bound) if tasks else (set(), set())
    for task, stream in zip(tasks, ready, strict=True):
        if task in pending:
            task.cancel()
            stream.outcome = f"no ChatDone within {bound:.0f}s"
    await asyncio.gather(*pending, return_exceptions=True)
    await asyncio.gather(*(s.ws.close() for s in ready if s.ws is not None), return_exceptions=True)


def _ms(values: list[float]) -> dict[str, float | None]:
    ms = [v * 1000 for v in values]
    return {f"p{q}_ms": round(percentile(ms, q / 100), 1) if ms else None for q in (50, 95, 99)} | {
        "mean_ms": round(statistics.fmean(ms), 1) if ms else None}


def peak(streams: list[Stream]) -> int:
    """Most subscriptions open at once: between the send of `subscribe` and ChatDone (or the end, if lost)."""
    events = [(s.scheduled, 1) for s in streams if s.scheduled]
    events += [(s.done or float("inf"), -1) for s in streams if s.scheduled]
    now = best = 0
    for _, delta in sorted(events):
        now += delta
        best = max(best, now)
    return best


async def run(args: argparse.Namespace) -> dict[str, object]:
    limit = nofile_at_least(args.subscriptions + args.warmup + 256)
    async with httpx.AsyncClient(timeout=args.max_seconds) as client:
        if args.warmup:  # lazy imports and first-use costs on both servers stay out of the timed phase
            warm = await open_all([Stream() for _ in range(args.warmup)], args)
            await asyncio.gather(run_all(warm, args, 0.0, args.max_seconds),
                                 probes_at(client, args.upstream, args.words, [0.0] * 3))
        idle = await probes_at(client, args.upstream, args.words,
                               [time.perf_counter() + i * 0.05 for i in range(args.probes)])
        streams = [Stream() for _ in range(args.subscriptions)]
        t_open = time.perf_counter()
        opened = await open_all(streams, args)
        open_s = time.perf_counter() - t_open
        per0, up0 = tree_cpu(args.server_pid), tree_cpu_s(args.upstream_pid)
        wait0, busy0, own0, t0 = runqueue_wait_s(list(per0)), machine_busy_s(), time.process_time(), time.perf_counter()
        start = t0 + 0.05
        probes = probes_at(client, args.upstream, args.words,
                           [start + i * args.ramp / max(1, args.probes) for i in range(args.probes)])
        under_load, _ = await asyncio.gather(probes, run_all(opened, args, start, args.max_seconds))
        elapsed = time.perf_counter() - t0
        per = tree_cpu(args.server_pid)
        server_cpu = sum(v - per0.get(p, 0.0) for p, v in per.items())
        waited = runqueue_wait_s(list(per)) - wait0
        busy, own = machine_busy_s() - busy0, time.process_time() - own0
        upstream_cpu = tree_cpu_s(args.upstream_pid) - up0
    completed = [s for s in streams if s.outcome == "completed"]
    reasons: dict[str, int] = {}
    for s in streams:
        if s.outcome != "completed":
            reasons[s.outcome[:120]] = reasons.get(s.outcome[:120], 0) + 1
    n = len(opened) or 1
    return {
        "subscriptions": args.subscriptions, "opened": len(opened), "completed": len(completed),
        "lost": args.subscriptions - len(completed), "lost_reasons": reasons, "peak_concurrent": peak(streams),
        "ramp_s": args.ramp, "open_s": round(open_s, 2), "elapsed_s": round(elapsed, 2),
        "ttft": _ms([s.first_delta - s.scheduled for s in streams if s.first_delta]),
        "total": _ms([s.done - s.scheduled for s in completed]),
        "upstream_ttft_idle": _ms([v for v in idle if v is not None]),
        "upstream_ttft": _ms([v for v in under_load if v is not None]),
        "upstream_probe_failures": sum(v is None for v in idle + under_load),
        "server_cpu_ms_per_stream": round(server_cpu * 1000 / n, 3),
        "server_busy_cores": round(server_cpu / elapsed, 2), "server_runqueue_wait_s": round(waited, 2),
        "upstream_cpu_ms_per_stream": round(upstream_cpu * 1000 / n, 3) if args.upstream_pid else None,
        "client_cpu_ms_per_stream": round(own * 1000 / n, 3),
        "machine_busy_cores": round(busy / elapsed, 2),
        "other_busy_cores": round((busy - server_cpu - own - upstream_cpu) / elapsed, 2), "nofile_limit": limit,
    }


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True, help="ws://host:port/graphql")
    parser.add_argument("--key", required=True, help="API key, sent in connection_init")
    parser.add_argument("--upstream", required=True, help="the OpenAI test server's base URL (.../v1)")
    parser.add_argument("--subscriptions", type=int, default=1000)
    parser.add_argument("--ramp", type=float, default=3.0, help="seconds over which the subscribes are sent")
    parser.add_argument("--words", type=int, default=WORDS, help="words in the message (echoed in the reply)")
    parser.add_argument("--probes", type=int, default=20, help="direct upstream requests, idle and under load each")
    parser.add_argument("--warmup", type=int, default=50, help="subscriptions run before the timed phase")
    parser.add_argument("--open-concurrency", type=int, default=50, help="WebSocket handshakes in flight")
    parser.add_argument("--server-pid", type=int, default=0)
    parser.add_argument("--upstream-pid", type=int, default=0)
    parser.add_argument("--max-seconds", type=float, default=120.0, help="bound on the timed phase")
    return parser


def main() -> None:
    args = parser().parse_args()
    try:
        from uvloop import run as run_loop
    except ImportError:
        run_loop = asyncio.run
    print(json.dumps(run_loop(run(args))))


if __name__ == "__main__":
    main()
