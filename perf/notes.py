"""The prose of RESULTS.md: how the figures are taken, and why a target is missed, from the measured values."""

from __future__ import annotations

from perf.bench import paired
from perf.scenarios import SKIPS, UPSTREAM_ALONE

OPEN_300, OPEN_400 = "ragweave, open loop at 300/s", "ragweave, open loop at 400/s"  # row names start so
METHOD = """How: each server is its own process on 127.0.0.1 (uvicorn, `perf/serve_fakes.py`; with several workers,
the supervisor deals new connections to them in turn, `ragweave/workers.py`, as `ragweave serve --workers` runs) over
the in-memory fakes of `perf/fakes.py` (deterministic corpus: 1000 chunks of ~800 characters in 100 documents,
300 entities, 3 mentions per chunk, 2 relations per entity; each backend call sleeps its injected latency and is
counted).
{load} The variants of a scenario run interleaved (A B C A B C ...) and the tables show medians over the
repetitions. **Server CPU per op is the robust figure.** Throughput and latency are not: the machine has 2 cores,
the load generator uses them too (`client CPU ms/op`), and other work on the machine took `other load` cores during
the runs. All load comes with one reader API key, whose rate limit is raised out of the way
(RAGWEAVE_RATE_PER_S/BURST; the limiter still runs). Requests the admission limit refused (HTTP 503 `OVERLOADED`)
are `shed`, not errors: ops/s and latency are those of the requests served{shed_latency}, and `shed %` is the share
of all requests answered 503 (columns shown when a run shed any). Profiles (py-spy, PyPI) are taken on one more
load run of a scenario that missed a target; raw stacks: perf/out/profile-*.txt."""
LOAD_PY = """The load generator (`perf/load.py`: httpx, one keep-alive connection per concurrency slot,
closed loop or open-loop rate, warm-up first) is a process of its own, sends a real API key, and reads the server's
CPU time (user and system, of the server and its worker processes, each read from its CPU-time clock to the
nanosecond) around the timed phase."""
WRK = """The load generator is a process of its own with one keep-alive connection per concurrency slot,
warms up first and sends a real API key: wrk for the closed-loop runs (one thread; `perf/wrk.lua` sends a fixed
count of requests and reports latencies as measured, wrk's coordinated-omission correction undone), `perf/load.py`
(httpx) for the open-loop ones. The server's CPU time (user and system, of the server and its worker processes, each
read from its CPU-time clock to the nanosecond) is read around the timed phase; `client CPU ms/op` is the CPU of
whichever generator ran the row. A check of a ratio between two variants takes the median of the repetitions'
ratios, each measured side by side (load from outside that drifts between repetitions cancels out of each); the
ratio of the medians is in its note."""


def _by_wrk(meta: dict) -> bool:
    return (meta.get("load_generator") or {}).get("closed_loop", "").startswith("wrk")


def method(meta: dict) -> str:
    """How the figures are taken, for the load generators this run used."""
    wrk = _by_wrk(meta)
    shed = " (in wrk's closed-loop runs the latency includes them: its histogram cannot set them apart)"
    return METHOD.format(load=WRK if wrk else LOAD_PY, shed_latency=shed if wrk else "")


def generators(meta: dict) -> str:
    """Which load generator ran which runs (records made before wrk ran everything with perf/load.py)."""
    load_py = f"perf/load.py (httpx {meta.get('packages', {}).get('httpx')})"
    chosen = meta.get("load_generator") or {}
    if _by_wrk(meta):
        return f"closed-loop runs **{chosen['closed_loop']}**, one thread, `perf/wrk.lua`; open-loop runs {load_py}."
    missing = f" (wrk not used: {chosen['wrk_missing']})" if chosen.get("wrk_missing") else ""
    return f"**{load_py}**, closed and open loop{missing}."


def _row(s: dict, name: str) -> dict:
    return s.get("rows", {}).get(name) or {}


def _open(s: dict, prefix: str) -> dict:
    """The open-loop row of ragweave as earlier records ran it (its name got the configuration appended)."""
    return next((row for name, row in s.get("rows", {}).items() if name.startswith(prefix)), {})


def _n(value: object, digits: int = 1) -> str:
    return "?" if value is None else f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def _pkg(s: dict, name: str) -> float:
    return dict(s.get("profile", {}).get("self_by_package_pct", [])).get(name, 0.0)


def _ceiling(*cpu_ms: float | None) -> float | None:
    """Ops/s that 2 cores allow when every op costs the sum of these CPU times and nothing else runs."""
    total = sum(c for c in cpu_ms if c)
    return round(2000 / total) if total else None


def why(s: dict) -> str:
    if not s.get("checks") or (all(c["pass"] for c in s["checks"]) and s["id"] not in ("a", "d", "e", "f", "h")):
        return ""
    return {"a": _a, "b": _b, "c": _c, "d": _d, "e": _e, "f": _f, "g": _g, "h": _h}.get(s["id"], lambda s: "")(s)


def _shares(s: dict, top: int = 4) -> str:
    return ", ".join(f"{name} {pct}%" for name, pct in s.get("profile", {}).get("self_by_package_pct", [])[:top])


def _a(s: dict) -> str:
    rw, rest = _row(s, "ragweave"), _row(s, "rest")
    spent = (f"ragweave spends {_n(rw.get('server_cpu_ms_per_op'), 2)} ms of server CPU per Small op, the REST "
             f"endpoint {_n(rest.get('server_cpu_ms_per_op'), 2)} ms for the same JSON. Both parse the body, make the "
             "same two backend calls and encode the answer; ragweave also runs the HTTP view's request steps (sub-"
             "response, context and the caller's key, persisted queries, result processing; Strawberry's general "
             "`run` is skipped for a plain JSON POST, ragweave/plain_post.py), the per-operation work of its "
             "extensions (telemetry, error codes, cost and rate limits, deadline, call counting, the document cache; "
             "done directly by the query lane, ragweave/schema/query_lane.py, without Strawberry's operation "
             "pipeline), and the execution of 41 fields (the root resolver called without building graphql-core's "
             "executor, ragweave/schema/direct_root.py, the hits completed by a function generated for their "
             "selection, ragweave/schema/completion.py"
             + (f"; profile, self time: {_shares(s)}). " if _shares(s) else "). "))
    bypass_name, floor_name = SKIPS.values()
    bypass, floor = _row(s, bypass_name), _row(s, floor_name)
    if not floor:  # records made before the experiments ran
        return spent + ("What is left is spread over that pipeline, no part of it large: 1.5x a hand-written "
                        "endpoint would need hot operations to skip Strawberry's view, extension hooks and executor "
                        "altogether (a plan compiled per persisted document, from the request body to the "
                        "resolvers), a design change.")
    rest_cpu = rest.get("server_cpu_ms_per_op")

    def versus_rest(name: str) -> str:
        return (f"{_n(_row(s, name).get('server_cpu_ms_per_op'), 3)} ms, "
                f"{_n(paired(s['rows'], name, 'rest', 'server_cpu_ms_per_op'), 2)}x REST")

    floor_cpu, bypass_cpu = floor.get("server_cpu_ms_per_op"), bypass.get("server_cpu_ms_per_op")
    verdict = ""
    floor_ratio = paired(s["rows"], floor_name, "rest", "server_cpu_ms_per_op")
    if floor_ratio and floor_ratio > 1.5:
        verdict = (" The floor alone misses 1.5x: no way of executing the operation, however fast, reaches the "
                   "target unless that per-request work gets cheaper too, and the REST endpoint does none of it.")
    elif floor_cpu and rest_cpu and bypass_cpu:
        verdict = (f" The floor is within 1.5x, with {_n(1.5 * rest_cpu - floor_cpu, 3)} ms to spare: that is what "
                   f"executing the operation (41 fields, the resolver's work) may cost, against "
                   f"{_n(bypass_cpu - floor_cpu, 3)} ms as the query lane executes it, without the pipeline.")
    return spent + (
        "Two experiments in the same run, with the same answers (perf/pipeline_floor.py, also "
        "`python -m perf.instructions --skip pipeline|execution` in-process), show where the CPU goes. Without "
        "Strawberry's view steps and `Schema.execute` (the extensions' work done by hand, no operation log, the "
        "operation run as the query lane runs it): "
        f"{versus_rest(bypass_name)}. Without GraphQL execution as well (the answer built by hand from the same two "
        f"backend calls): {versus_rest(floor_name)}. That is the floor of ragweave's per-request work before any field "
        "is executed: the middleware, the view's entry, the context and the caller's key, the cost and the rate "
        f"limit, the deadline, the metrics, the encoding.{verdict}")


def _b(s: dict) -> str:
    rw, nv, nl = _row(s, "ragweave"), _row(s, "naive-strawberry"), _row(s, "ragweave-noloaders")
    calls = s.get("call_totals", {})
    no_loaders = calls.get("ragweave-noloaders", {})
    return (f"Both servers complete a {s.get('response_fields', '?')}-field response and do the same retrieval "
            "work (the fakes' graph expansion, graph scores and fusion: the naive server imports ragweave's ranking "
            "functions). The naive server completes every field through graphql-core's and Strawberry's full path; "
            "ragweave reads plain attributes, completes objects and lists, and calls Strawberry resolvers without "
            "their wrapper on the executor's short paths (ragweave/schema/execution.py), and also runs per-operation "
            "work the naive server does not: cost, auth, metrics and log extensions, context and loaders "
            f"(profile, self time: {_shares(s, 5)}). ragweave {_n(rw.get('server_cpu_ms_per_op'))} ms, naive "
            f"{_n(nv.get('server_cpu_ms_per_op'))} ms. Without "
            f"DataLoaders ragweave costs {_n(nl.get('server_cpu_ms_per_op'))} ms "
            f"and makes {no_loaders.get(50, no_loaders.get('50', '?'))} backend calls at topK 50: that is the cost "
            "the loaders remove. At topK 50 the fused hits include chunks that only the graph reached: their "
            "entities come with the mentions query (`graph.mentions_with_chunk_entities`), so they need no second "
            "`graph.entities_of_chunks` batch.")


def _c(s: dict) -> str:
    rw = _row(s, "ragweave")
    cpu, client = rw.get("server_cpu_ms_per_op"), rw.get("client_cpu_ms_per_op")
    need = round(2000 / 400 - (client or 0), 1)
    busy, other = rw.get("machine_busy_cores") or 0, _n(rw.get("other_busy_cores"), 2)
    shares = [max(r["server_cpu_shares"]) for r in rw.get("reps", []) if r.get("server_cpu_shares")]
    busier = f"; the busier worker did {'/'.join(f'{v:.0%}' for v in shares)} of the server's work" if shares else ""
    lead = (f"CPU-bound: {_n(cpu)} ms of server CPU per op plus {_n(client)} ms in the load generator cap this "
            f"2-core machine at about {_ceiling(cpu, client)} ops/s with nothing else running (other load during the "
            f"runs: {other} cores). 64 clients then queue" if busy >= 1.8 else
            f"Not CPU-bound on the machine: {_n(cpu)} ms of server CPU per op plus {_n(client)} ms in the load "
            f"generator would allow about {_ceiling(cpu, client)} ops/s on its 2 cores, and the runs kept "
            f"{busy:.2f} of them busy (other load: {other} cores{busier}). The 64 clients queue all the same")
    convoy = 50 + 32 * (cpu or 0)
    return (f"{lead}: p50 "
            f"{_n(rw.get('p50_ms'), 0)} ms against a 50 ms backend path. The fakes' latencies are fixed, so the "
            "requests of a worker move in a convoy and each waits for the CPU work of the others: the p50 comes "
            "to about 50 ms + clients per worker x CPU per op, with 32 clients per worker (the supervisor deals "
            f"them in turn) {convoy:.0f} ms at {_n(cpu)} ms per op; the p95 adds the spread. 400 ops/s with this "
            "load generator "
            f"on the same 2 cores needs the server at about {need} ms CPU per op; with 64 closed-loop clients, "
            "p95 <= 120 ms also needs >= 533 ops/s (Little's law: 64 / 0.12 s). Offered 400 requests/s (open loop): "
            f"{_n(_open(s, OPEN_400).get('ops_per_s'), 0)} ops/s, p95 "
            f"{_n(_open(s, OPEN_400).get('p95_ms'), 0)} ms.")


def _d(s: dict) -> str:
    rw, rest = _row(s, "ragweave"), next((r for n, r in s.get("rows", {}).items() if n.startswith("rest")), {})
    floor, over = rest.get("overhead_p50_ms"), rw.get("overhead_p50_ms")
    text = (f"Nothing queues at concurrency 1, so p50 {_n(rw.get('p50_ms'))} ms is the injected sleeps as actually "
            f"slept ({_n(rw.get('actual_sleep_ms_per_op'))} ms for 50 requested: each wake from idle comes late), "
            f"plus the server's CPU for the op ({_n(rw.get('server_cpu_ms_per_op'))} ms, several times its cost at "
            "load: after each idle wait the process runs from cold caches), plus the load generator's own request "
            f"handling ({_n(rw.get('client_cpu_ms_per_op'))} ms of {rw.get('generator', 'httpx')} CPU per request, "
            f"on the same cores). The REST endpoint answering the same JSON over the same two waits is {_n(floor)} ms "
            "over the path: the floor of this setup (HTTP on both sides, the late wakes, the client's CPU)")
    if floor is None or over is None:
        return text + "."
    if floor >= 2:
        return text + (f", over 2 ms before any GraphQL work, so the target needs a cheaper setup (the client's "
                       f"{_n(rest.get('client_cpu_ms_per_op'))} ms of CPU per request is part of it) as well as a "
                       "cheaper op.")
    where = ("Where an idle request's time goes, layer by layer up to its first backend wait: "
             "`python -m perf.idle_steps`.")
    if over <= 2:
        thin = (", a margin within what this figure moves between runs of the same code here (a few tenths of a "
                "millisecond)") if 2 - over < 0.3 else ""
        return text + (f"; it leaves {2 - floor:.1f} ms of the 2 ms to ragweave, which is {over - floor:.1f} ms above "
                       f"that floor: passes, {2 - over:.2f} ms under the target{thin}. {where}")
    return text + (f"; it leaves {2 - floor:.1f} ms of the 2 ms to ragweave, which is {over - floor:.1f} ms above "
                   f"that floor: the target needs a cheaper op. {where}")


def _e(s: dict) -> str:
    one, two = _row(s, "ragweave 1 worker"), _row(s, "ragweave 2 workers")
    r1, r2 = _row(s, "rest 1 worker"), _row(s, "rest 2 workers")
    rest = _n(paired(s["rows"], "rest 2 workers", "rest 1 worker", "ops_per_s"), 2)  # as the check's note has it
    lopsided = sum(1 for r in two.get("reps", []) if max(r.get("server_cpu_shares") or [0]) >= 0.9)
    skew = (f" In {lopsided} of {len(two.get('reps', []))} repetitions one worker did at least 90% of the work: the "
            "32 keep-alive connections are accepted by whichever worker wakes first and stay there, so a client "
            "with long-lived connections (a proxy's pool) can leave the second worker idle.") if lopsided else ""
    if s["checks"][0]["pass"]:  # said as well: this ratio swings more between runs than its margin
        s1, s2 = one.get("server_cpu_ms_per_op") or 0, two.get("server_cpu_ms_per_op") or 0
        slowed = (" One worker costing more per op than each of two is other work on the machine slowing the "
                  "1-worker runs, not scaling.") if s1 > s2 else ""
        return (f"Passes in this run; the ratio swings between runs by more than its margin. The server's CPU per op "
                f"was {_n(s1, 3)} ms with 1 worker and {_n(s2, 3)} ms with 2 (plain REST: "
                f"{_n(r1.get('server_cpu_ms_per_op'), 3)} and {_n(r2.get('server_cpu_ms_per_op'), 3)}).{slowed} The "
                f"plain REST server scaled {rest}x in the same run (median of the repetitions' ratios)." + skew)
    busy = two.get("machine_busy_cores") or 0
    lead = ("The machine, not the worker count, is the limit" if busy >= 1.8 else
            f"Not the machine alone ({busy:.2f} of its 2 cores were busy with 2 workers)")
    return (f"{lead}: the server and the load generator use {_cores(one):.2f} cores at {_n(one.get('ops_per_s'), 0)} "
            f"ops/s with 1 worker and {_cores(two):.2f} at {_n(two.get('ops_per_s'), 0)} ops/s with 2, and other "
            f"work took {_n(one.get('other_busy_cores'), 2)}-{_n(two.get('other_busy_cores'), 2)} cores. The plain "
            f"REST server scales {rest}x on the same machine{_rest_limit(r2)}. With s ms of server and c ms of "
            "load-generator CPU per op, the 2 cores less the other work allow at most (2 - other) x 1000/(s+c) ops/s "
            f"whatever the worker count: {_bound(one, two)} the 1-worker rate here. " + _idle(one, two) + skew)


def _cores(row: dict) -> float:
    """Cores the server and the load generator used together at the row's rate."""
    cpu = (row.get("server_cpu_ms_per_op") or 0) + (row.get("client_cpu_ms_per_op") or 0)
    return cpu * (row.get("ops_per_s") or 0) / 1000


def _rest_limit(r2: dict) -> str:
    server, client = r2.get("server_cpu_ms_per_op"), r2.get("client_cpu_ms_per_op")
    if not (server and client):
        return ""
    if client > server:
        return f": the load generator ({_n(client, 2)} ms of CPU per op against the server's {_n(server, 2)}) " \
               "saturates first"
    return f" ({_n(server, 2)} ms of server and {_n(client, 2)} ms of load-generator CPU per op)"


def _idle(one: dict, two: dict) -> str:
    """The ratio an idle machine allows: 1 worker is held to one core (1000/s1 ops/s), 2 workers to both cores,
    shared with the load generator (2000/(s2 + c) ops/s)."""
    s1, s2, c = one.get("server_cpu_ms_per_op"), two.get("server_cpu_ms_per_op"), two.get("client_cpu_ms_per_op")
    if not (s1 and s2 and c):
        return ""
    text = (f"On an idle machine the ratio is at most 2 s1/(s2 + c) = {2 * s1 / (s2 + c):.2f}x here (s1 {_n(s1, 2)} "
            f"ms with 1 worker, s2 {_n(s2, 2)} ms with 2, c {_n(c, 2)} ms); 1.7x needs s2 + c under 2/1.7 s1 = "
            f"{2 * s1 / 1.7:.2f} ms")
    if 2 * s1 / (s2 + c) >= 1.7:
        return text + (", which this load generator and server meet on an idle machine; the measured ratio "
                       "is short of it by what other work and run-to-run noise took.")
    if s2 < 2 * s1 / 1.7 <= s2 + c:
        return text + ": the load generator would have to run on other cores than the server's (a second " \
                      "machine, or a larger one with CPU pinning)."
    return text + ": the server's own cost per op with 2 workers is over it."


def _bound(one: dict, two: dict) -> str:
    server, client, rate = two.get("server_cpu_ms_per_op"), two.get("client_cpu_ms_per_op"), one.get("ops_per_s")
    if not (server and client and rate):
        return "?"
    ceiling = (2 - (two.get("other_busy_cores") or 0)) * 1000 / (server + client)
    return f"{ceiling:.0f} ops/s, {ceiling / rate:.2f}x"


def _f(s: dict) -> str:
    e = s.get("embedded", {})
    as_is, opt = e.get("as_is", {}).get("warm", {}), e.get("optimized", {}).get("warm", {})
    warm_p95 = as_is.get("p95_ms")
    verdict = ("Passes as upserts leave the shard" if warm_p95 is not None and warm_p95 <= 25
               else "Misses as upserts leave the shard")
    return (f"{verdict}: without a vector index a search as the 90k-point tenant scans every vector (p95 "
            f"{warm_p95} ms), and qdrant-edge keeps the GIL for the whole call, so the event loop stalled as long "
            f"(p99 {as_is.get('loop_stall_p99_ms')} ms). `build_index` (`EdgeShard.optimize()`: "
            f"{e.get('optimize_seconds')} s for {e.get('points')} points, the GIL held throughout, so never while "
            "the server serves: `ragweave ingest` ends with it, `ragweave index-vectors` runs it with the server "
            f"stopped) brings the warm p95 to {opt.get('p95_ms')} ms and the loop's stalls to p99 "
            f"{opt.get('loop_stall_p99_ms')} ms; tenant-filtered p95 "
            f"{e.get('optimized', {}).get('tenant_filtered', {}).get('p95_ms')} ms. RSS went from "
            f"{e.get('rss_mb_after_ingest')} MB after ingest to {e.get('rss_mb_end')} MB with the index. Ingest of "
            f"{e.get('points')} points: {e.get('ingest', {}).get('seconds')} s.")


def _g(s: dict) -> str:
    rw = _row(s, "ragweave")
    fx = _open(s, OPEN_300)
    cpu = [rw.get(k) for k in ("server_cpu_ms_per_op", "upstream_cpu_ms_per_op", "client_cpu_ms_per_op")]
    return ("100 closed-loop clients behind a 300 ms upstream can reach at most 100 / 0.3 = 333 ops/s, so 300 ops/s "
            "leaves ragweave 33 ms per request, queueing included. CPU: ragweave "
            f"{_n(rw.get('server_cpu_ms_per_op'))} ms, the LLM test server {_n(rw.get('upstream_cpu_ms_per_op'))} ms "
            f"and the load generator {_n(rw.get('client_cpu_ms_per_op'))} ms per op cap 2 cores at about "
            f"{_ceiling(*cpu)} ops/s (other load: {_n(rw.get('other_busy_cores'), 2)} cores). Offered 300 requests/s "
            f"over the same 100 connections (open loop): {_n(fx.get('ops_per_s'), 0)} ops/s, p95 "
            f"{_n(fx.get('p95_ms'), 0)} ms, server {_n(fx.get('server_cpu_ms_per_op'))} ms/op."
            + _upstream_alone(rw, _row(s, UPSTREAM_ALONE)))


def _upstream_alone(rw: dict, alone: dict) -> str:
    """The ceiling the upstream itself sets, and what ragweave adds to it (Little's law, 100 clients)."""
    if not alone.get("ops_per_s") or not rw.get("ops_per_s"):
        return ""
    added = 100_000 / rw["ops_per_s"] - 100_000 / alone["ops_per_s"]
    room = 100_000 / 300 - 100_000 / alone["ops_per_s"]
    need = (f"300 ops/s would leave ragweave at most {room:.0f} ms" if room > 0
            else "the upstream alone does not reach 300 ops/s with these clients")
    return (f" The LLM test server alone, with the same 100 clients and no ragweave in front, answers "
            f"{_n(alone['ops_per_s'], 0)} ops/s (p50 {_n(alone.get('p50_ms'), 0)} ms, p95 "
            f"{_n(alone.get('p95_ms'), 0)} ms, its CPU {_n(alone.get('server_cpu_ms_per_op'), 2)} ms/op): that is this "
            f"setup's ceiling, not 333. ragweave adds {added:.0f} ms per request on average to it; {need}.")


def _h(s: dict) -> str:
    rows = s.get("streams", {})
    big, ref = rows.get("1000 subscriptions", {}), rows.get("100 subscriptions (reference)", {})
    cpu = big.get("server_cpu_ms_per_stream")
    ramp = next((r.get("ramp_s") for r in big.get("reps", [])), None)
    lost = sum(r.get("lost", 0) for r in rows.values())
    text = ""
    if s["checks"] and not s["checks"][0]["pass"]:
        text = (f"CPU, on one worker. Each subscription cost {_n(cpu)} ms of server CPU (the subscribe, the upstream "
                "request and its SSE parsing, one GraphQL execution and one WebSocket frame per ChatDelta, then "
                f"ChatDone and complete), so 1,000 of them are {_n(cpu)} s of CPU for one process, which can use at "
                f"most one core, and they arrived within {_n(ramp)} s. The worker ran at "
                f"{_n(big.get('server_busy_cores'), 2)} cores over the {_n(big.get('elapsed_s'))} s of a repetition; "
                f"its threads waited {_n(big.get('server_runqueue_wait_s'))} s for a CPU that other processes held "
                f"(other load: {_n(big.get('other_busy_cores'), 2)} cores). Work that does not fit queues on the event "
                "loop, and a new subscription's first delta waits behind the other streams' deltas: TTFT p95 "
                f"{_n(big.get('ttft', {}).get('p95_ms'), 0)} ms against the upstream's "
                f"{_n(big.get('upstream_ttft', {}).get('p95_ms'), 0)} ms. At this cost one core starts and finishes "
                f"about {round(1000 / cpu) if cpu else '?'} streams per second: 1,000 concurrent streams fit one "
                f"worker only if each lasts at least {round(cpu) if cpu else '?'} s, the subscribes come no faster, "
                "and the worker has a core to itself. ")
    elif s["checks"]:
        text = (f"Each subscription cost {_n(cpu)} ms of server CPU, so the worker ran at "
                f"{_n(big.get('server_busy_cores'), 2)} cores over the {_n(big.get('elapsed_s'))} s of a repetition "
                f"(other load: {_n(big.get('other_busy_cores'), 2)} cores): below one core, new subscriptions wait "
                f"little behind the other streams' deltas, TTFT p95 {_n(big.get('ttft', {}).get('p95_ms'), 0)} ms "
                f"against the upstream's {_n(big.get('upstream_ttft', {}).get('p95_ms'), 0)} ms. The margin is the "
                "core's idle share: when other processes take the CPU the worker needs, TTFT grows far faster than "
                "the CPU per stream does. ")
    text += (f"With 100 subscriptions: TTFT p95 {_n(ref.get('ttft', {}).get('p95_ms'), 0)} ms, "
             f"{_n(ref.get('ratio'), 2)}x the upstream's. ")
    reasons = {k: v for r in rows.values() for k, v in r.get("lost_reasons", {}).items()}
    return text + (f"{lost} subscriptions lost ({reasons})." if lost else
                   "No subscription was lost: every one ended with ChatDone.")
