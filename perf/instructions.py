"""Instructions per request of one operation, in-process: `python -m perf.instructions [--op Small] [--app rest|naive]`.

`--op ChatStream` counts one `chatStream` subscription instead (perf/asgi_stream.py: connect, subscribe, every
event up to `complete`), as scenario (h) asks for it (an echo of perf/streams.py's WORDS words), against the OpenAI
test server in a process of its own (perf/openai_process.py, no latency), so that only ragweave's process counts.

The app is called as an ASGI callable over the fakes (no sockets, no uvicorn), under valgrind's callgrind with
instrumentation switched on only around the timed requests (callgrind_control). Instruction counts do not depend
on what else the machine runs, so two builds compare on a shared, loaded machine where CPU times swing by 30%:
run it in each tree (e.g. a `git archive` of the base commit) and compare. Needs valgrind (Debian: valgrind).
With --cpu it prints CPU milliseconds per request instead (noisy). With --cpu --idle the fakes sleep (d)'s
latencies (20 ms per vector call, 30 ms per graph call), so that every request runs after the process idled, as
at concurrency 1, and it prints each request's time over those sleeps (p50) beside its CPU, and where that time
goes (`wait_gaps`): before the first wait, between waits, after the last one up to the response (p50 of each);
`--wait-ms 1,1` shortens the sleeps, to see how much of that time the idling itself adds. With
--skip pipeline (an experiment, perf/pipeline_floor.py) plain POSTs skip Strawberry's view, `Schema.execute` and
the extension hooks, after one answer checked against the normal one: what such a pipeline could save; with
--skip execution (Small) they skip GraphQL execution too: the floor of ragweave's per-request work. With --cache
it also counts first-level cache misses per request (callgrind's cache simulation, with this machine's cache
sizes): at the same instruction count, more misses mean more CPU time.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

from perf import procs
from perf.bench import QUERY, gql

STREAM = "ChatStream"
IDLE_WAITS_MS = (20, 30)  # (d)'s latencies: the fakes' sleep per vector call, per graph call


def _request(app_kind: str, op: str, key: str, top_k: int | None) -> tuple[str, bytes, list[tuple[bytes, bytes]]]:
    k = top_k or (10 if op == "Small" else 5)
    if app_kind == "rest":  # the endpoint answering the operation's JSON
        path = {"Small": "/search", "RetrieveWithEntities": "/retrieve"}.get(op)
        if path is None:
            raise SystemExit(f"the REST baseline has no endpoint for {op}")
        body = json.dumps({"query": QUERY, "topK": k}).encode()
    else:
        body, path = gql(op, q=QUERY, k=k).encode(), "/graphql"
    headers = [(b"host", b"127.0.0.1"), (b"content-type", b"application/json"),
               (b"content-length", str(len(body)).encode()), (b"authorization", f"Bearer {key}".encode())]
    return path, body, headers


async def _serve(app, state: dict, path: str, body: bytes, headers: list) -> bytes:
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "", "headers": headers,
             "client": ("127.0.0.1", 5555), "server": ("127.0.0.1", 8000), "state": dict(state)}
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    chunks: list[bytes] = []

    async def receive() -> dict:
        if messages:
            return messages.pop()
        await asyncio.Event().wait()  # the request has no more body; a disconnect never comes
        raise AssertionError

    async def send(message: dict) -> None:
        if message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return b"".join(chunks)


def use_fakes(app_kind: str, waits_ms: tuple[int, int] | None = None) -> None:
    """The environment of an app served in-process over the fakes (perf.serve_fakes): no rate limit, a scratch data
    directory, and with `waits_ms` the fakes' sleeps per vector and per graph call."""
    os.environ.update({"RAGWEAVE_RATE_PER_S": str(10**9), "RAGWEAVE_RATE_BURST": str(10**9), "PERF_APP": app_kind,
                       "RAGWEAVE_DATA_DIR": tempfile.mkdtemp(prefix="perf-in-process-")})
    if waits_ms is not None:
        vector_ms, graph_ms = waits_ms
        os.environ.update({"PERF_VECTOR_MS": str(vector_ms), "PERF_GRAPH_MS": str(graph_ms)})


async def serving() -> tuple[Any, dict, asyncio.Task, str]:
    """The app of `use_fakes`' environment with its lifespan started (`started`), and a reader's API key for it."""
    from perf.serve_fakes import build_app
    from ragweave.auth import KeyStore

    _, key = KeyStore(Path(os.environ["RAGWEAVE_DATA_DIR"]) / "keys.json").create("default", "reader")
    app = build_app()
    state, lifespan = await started(app)
    return app, state, lifespan, key


async def _run(args: argparse.Namespace) -> None:
    use_fakes(args.app, (args.wait_ms or IDLE_WAITS_MS) if args.idle else None)
    if args.op == STREAM:
        port = procs.free_port()
        upstream = procs.spawn("instructions-openai",
                               ["-m", "perf.openai_process", "--port", str(port), "--latency", "0"])
        procs.wait_ready(upstream, f"http://127.0.0.1:{port}/v1/models")
        os.environ.update({"OPENAI_BASE_URL": f"http://127.0.0.1:{port}/v1", "OPENAI_API_KEY": "perf"})
    try:
        await _measure(args)
    finally:
        procs.stop_all()


async def started(app: Any) -> tuple[dict, asyncio.Task]:
    """The app's lifespan started: the state it yields (for each request's scope) and its task (cancel it to stop)."""
    state: dict = {}
    done, startup = asyncio.Event(), asyncio.Queue()
    startup.put_nowait({"type": "lifespan.startup"})

    async def lifespan_send(message: dict) -> None:
        if message["type"] == "lifespan.startup.complete":
            done.set()

    lifespan = asyncio.create_task(app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": state},
                                       startup.get, lifespan_send))
    await done.wait()
    return state, lifespan


async def _measure(args: argparse.Namespace) -> None:
    from perf import fakes

    app, state, lifespan, key = await serving()
    if args.op == STREAM:
        from perf.asgi_stream import subscribe_once
        from perf.streams import WORDS

        def once() -> Awaitable[Any]:
            return subscribe_once(app, state, key, WORDS)

        def failed(answer: list[dict]) -> bool:
            return '"ChatDone"' not in json.dumps(answer) or any(m["type"] == "error" for m in answer)
    else:
        request = _request(args.app, args.op, key, args.top_k)

        def once() -> Awaitable[Any]:
            return _serve(app, state, *request)

        def failed(answer: bytes) -> bool:
            return b'"errors"' in answer or b'"error"' in answer
    answer = await once()
    if failed(answer):
        raise SystemExit(f"the request failed: {str(answer)[:300]}")
    if args.skip:
        from perf import pipeline_floor

        pipeline_floor.install(args.skip, frozenset(args.drop))
        if json.loads(await once())["data"] != json.loads(answer)["data"]:
            raise SystemExit(f"without the {args.skip}, the operation answers other data")
    for _ in range(args.warmup):
        await once()
    if args.callgrind:
        _instrument("on")
    slept, overs, gaps = fakes.SLEPT["actual_s"], [], []
    started_cpu = time.process_time()
    for _ in range(args.requests):
        if args.idle:  # only then: under callgrind the loop counts nothing but the requests
            fakes.WAITS = []
            slept_before = fakes.SLEPT["actual_s"]
            started_wall = time.perf_counter()
            await once()
            ended_wall = time.perf_counter()
            overs.append(ended_wall - started_wall - (fakes.SLEPT["actual_s"] - slept_before))
            gaps.append(wait_gaps(started_wall, fakes.WAITS, ended_wall))
        else:
            await once()
    cpu = time.process_time() - started_cpu
    if args.callgrind:
        _instrument("off")
    else:
        over = ""
        if args.idle:
            slept_per_request = (fakes.SLEPT["actual_s"] - slept) / args.requests
            before, between, after = (statistics.median(g[i] for g in gaps) * 1000 for i in range(3))
            over = (f", {statistics.median(overs) * 1000:.3f} ms (p50) over the fakes' "
                    f"{slept_per_request * 1000:.1f} ms of sleeps; outside them {before:.3f} ms before the first, "
                    f"{between:.3f} between, {after:.3f} after the last (p50 each)")
        print(f"{args.app} {args.op}: {cpu * 1000 / args.requests:.3f} ms CPU per request{over}")
    lifespan.cancel()


def wait_gaps(start: float, waits: list[tuple[float, float]], end: float) -> tuple[float, float, float]:
    """A request's time outside the injected waits: before the first starts, between them (where none is in flight:
    waits that overlap count as one), and after the last ends. Without waits, all of it is "before"."""
    if not waits:
        return end - start, 0.0, 0.0
    spans: list[list[float]] = []
    for began, ended in sorted(waits):
        if spans and began <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], ended)
        else:
            spans.append([began, ended])
    between = sum(later[0] - earlier[1] for earlier, later in itertools.pairwise(spans))
    return spans[0][0] - start, between, end - spans[-1][1]


def _instrument(state: str) -> None:
    """Blocks on purpose: nothing else should run while callgrind switches."""
    subprocess.run(["callgrind_control", "-i", state, str(os.getpid())], check=True, capture_output=True)


def _under_callgrind(args: argparse.Namespace) -> int:
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (apt-get install valgrind)")
    with tempfile.TemporaryDirectory() as scratch:
        command = ["valgrind", "--tool=callgrind", "--instr-atstart=no", *(["--cache-sim=yes"] if args.cache else []),
                   f"--callgrind-out-file={scratch}/callgrind.out", sys.executable, "-m", "perf.instructions",
                   "--inside", *sys.argv[1:]]  # the same options: this process parsed and checked them
        done = subprocess.run(command, capture_output=True, text=True)
    events = re.search(r"Events *: ([\w ]+)\n.*Collected : ([\d ]+)", done.stderr)
    if done.returncode != 0 or not events:
        raise SystemExit(f"callgrind failed ({done.returncode}): {done.stderr[-2000:]}")
    counts = dict(zip(events.group(1).split(), (int(n) // args.requests for n in events.group(2).split()), strict=True))
    print(f"{args.app} {args.op}: {counts['Ir']} instructions per request")
    if args.cache:  # callgrind's simulated first-level caches, with the machine's sizes
        print(f"  first-level cache misses per request: instructions {counts['I1mr']}, "
              f"data {counts['D1mr'] + counts['D1mw']} ({counts['D1mr']} reads, {counts['D1mw']} writes)")
    return 0


def _wait_ms(text: str) -> tuple[int, int]:
    vector, graph = (int(part) for part in text.split(","))
    if vector < 1 or graph < 1:
        raise ValueError("each sleep is at least 1 ms: a request must wait to idle")
    return vector, graph


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m perf.instructions", description=__doc__)
    parser.add_argument("--app", choices=["ragweave", "rest", "naive"], default="ragweave")
    parser.add_argument("--op", default="Small",
                        help=f"an operation of perf/operations.graphql, or {STREAM} (a subscription; ragweave)")
    parser.add_argument("--top-k", type=int, help="the operation's $k (default: 10 for Small, else 5)")
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--cpu", action="store_true", help="CPU time per request instead of instructions")
    parser.add_argument("--idle", action="store_true",
                        help="with --cpu: the fakes sleep 20 ms per vector and 30 ms per graph call, as in (d)")
    parser.add_argument("--wait-ms", type=_wait_ms, metavar="VECTOR,GRAPH",
                        help="with --idle: the fakes' sleeps per vector and per graph call (default 20,30, as in (d)); "
                             "shorter sleeps show how much of the time over them comes from idling")
    parser.add_argument("--skip", choices=["pipeline", "execution"],
                        help="an experiment (perf/pipeline_floor.py): plain POSTs skip Strawberry's view, "
                             "Schema.execute and the extension hooks; `execution` (Small only) also GraphQL execution")
    parser.add_argument("--drop", type=lambda text: text.split(","), default=[],
                        help="with --skip: also leave out these parts of the per-request work (comma-separated: "
                             "context, cost, limiter, deadline, metrics)")
    parser.add_argument("--cache", action="store_true",
                        help="also count first-level cache misses (callgrind's cache simulation; slower)")
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)  # the process callgrind runs
    args = parser.parse_args()
    if args.idle and not args.cpu:
        parser.error("--idle measures time and CPU: use it with --cpu")
    if args.wait_ms is not None and not args.idle:
        parser.error("--wait-ms sets --idle's sleeps: use it with --idle")
    if args.cache and args.cpu:
        parser.error("--cache counts under callgrind: use it without --cpu")
    if args.drop:
        from perf.pipeline_floor import PARTS

        if not args.skip or not set(args.drop) <= set(PARTS):
            parser.error(f"--drop needs --skip, and takes {', '.join(PARTS)}")
    if args.skip and (args.app != "ragweave" or args.op == STREAM or (args.skip == "execution" and args.op != "Small")):
        parser.error("--skip is for ragweave's queries; --skip execution for Small")
    if not args.cpu and not args.inside:
        return _under_callgrind(args)
    args.callgrind = args.inside
    try:
        from uvloop import run
    except ImportError:
        run = asyncio.run
    run(_run(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
