"""The scenarios (a)-(h). Each starts nothing itself: servers come from the runner's `Fleet`."""

from __future__ import annotations

import json
import statistics

from perf import procs, streams
from perf.bench import QUERY, Bench, check, gql, paired, ratios
from ragweave.settings import Settings

OPEN_300 = "ragweave, open loop at 300/s (uvloop, no admission limit)"  # the configuration of the earlier records
REST_SMALL = json.dumps({"query": QUERY, "topK": 10})
REST_RETRIEVE = json.dumps({"query": QUERY, "topK": 5})
CRITICAL_PATH_MS = 20 + 30  # RetrieveWithEntities: vector query (20 ms), then chunk.entities (30 ms); embed 0
REST_FLOOR = "rest /retrieve (same JSON, same backend path)"
# (a)'s experiments (perf/pipeline_floor.py): servers whose plain POSTs skip Strawberry's pipeline, or execution too
SKIPS = {"pipeline": "ragweave without Strawberry's pipeline (experiment)",
         "execution": "ragweave without GraphQL execution (experiment: the floor)"}


# Admission limits of the "admission" variants of (c) and (g): per worker, below the connections each worker holds
# (64 or 100 over 2 workers), so that the limit binds; one request waits at most ADMISSION_WAIT_S for a slot.
ADMISSION_C, ADMISSION_G, ADMISSION_WAIT_S = 16, 40, 0.25
# the servers `<name>-<loop><suffix>` of those variants: each loop, without ("") and with ("-limit") the limit
LOOP_VARIANTS = [(loop, suffix) for loop in ("uvloop", "asyncio") for suffix in ("", "-limit")]
MANY_CONNECTIONS = 400
_D = Settings()
AS_SHIPPED = (f"as shipped ({_D.loop} loop, admission {_D.max_in_flight}/worker, wait {_D.admission_wait_s:g} s, "
              f"queue {_D.max_queued})")


def admission_env(limit: int) -> dict[str, str]:
    """RAGWEAVE_* settings of a server with (limit > 0) or without (0) the admission limit."""
    return {"RAGWEAVE_MAX_IN_FLIGHT": str(limit), "RAGWEAVE_ADMISSION_WAIT_S": str(ADMISSION_WAIT_S),
            "RAGWEAVE_MAX_QUEUED": "256"}


def loop_variants(fleet, server: str, rate: float, limit: int, base: str | None, options: tuple) -> dict[str, tuple]:
    """Open loop at `rate` on the uvloop and asyncio servers `<server>-<loop>[-limit]`, with and without the
    admission limit; `base`, if given, names the uvloop row without it."""
    body, requests, concurrency, extra = options
    rows, limited = {}, f"admission {limit}/worker, wait {ADMISSION_WAIT_S} s"
    where = f"open {rate:.0f}/s" + (f" over {concurrency} connections" if base is None else "")
    for loop, suffix in LOOP_VARIANTS:
        label = limited if suffix else "no admission limit"
        name = base if base and (loop, suffix) == ("uvloop", "") else f"{where}: {loop}, {label}"
        rows[name] = (fleet[f"{server}-{loop}{suffix}"], body, requests, concurrency, {**extra, "rate": rate})
    return rows


def cpu_small_vs_rest(bench: Bench, fleet) -> dict:
    m = bench.mode
    small = gql("Small", q=QUERY, k=10)
    rows = bench.interleaved({
        "ragweave": (fleet["rw1"], small, m.small, 8, {}),
        "ragweave, asyncio loop": (fleet["rw1-asyncio"], small, m.small, 8, {}),
        "rest": (fleet["rest1"], REST_SMALL, m.small, 8, {"path": "/search"}),
        **{name: (fleet[f"rw1-skip-{skip}"], small, m.small, 8, {}) for skip, name in SKIPS.items()},
    }, reps=m.cpu_reps)
    answers = [bench.post(fleet[server], small)["data"] for server in ("rw1", *(f"rw1-skip-{k}" for k in SKIPS))]
    same = all(a == answers[0] for a in answers) and answers[0] == bench.post(
        fleet["rest1"], REST_SMALL, "/search")["data"]
    return {"id": "a", "title": "Small op, zero-latency fakes: server CPU per op, ragweave vs plain REST",
            "setup": "1 uvicorn worker each, 8 concurrent clients, `search(topK:10){score chunk{id text}}`",
            "rows": rows, "same_data": same,
            "checks": [_cpu_check("CPU/op ragweave / REST", rows, "ragweave", "rest", 1.5)]}


def _cpu_check(metric: str, rows: dict[str, dict], a: str, b: str, target: float) -> dict:
    """a's server CPU per op over b's, as the median of the repetitions' ratios (`paired`), with the ratio of the
    medians and the spread of the repetitions' ratios beside it."""
    key = "server_cpu_ms_per_op"
    each = sorted(ratios(rows, a, b, key))
    spread = f"; the repetitions' ratios ranged {each[0]:.2f}-{each[-1]:.2f}x" if each else ""
    return check(metric, paired(rows, a, b, key), "<=", target, "x",
                 f"median of the {len(each)} repetitions' ratios (each measured side by side); ratio of the "
                 f"medians: {_ratio(rows[a][key], rows[b][key])}x{spread}")


def _calls_of(bench: Bench, server: procs.Server, body: str) -> tuple[dict, dict]:
    before = procs.get_json(server.url("/perf/calls"))["calls"]
    response = bench.post(server, body)
    after = procs.get_json(server.url("/perf/calls"))["calls"]
    return {k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0)}, response


def deep_vs_naive(bench: Bench, fleet) -> dict:
    m = bench.mode
    body = gql("Deep", q=QUERY, k=50)
    rows = bench.interleaved({
        "ragweave": (fleet["rw1"], body, m.deep, 4, {}),
        "naive-strawberry": (fleet["naive1"], body, m.deep, 4, {}),
        "ragweave-noloaders": (fleet["noload1"], body, m.deep, 4, {}),
    })
    calls: dict[str, dict[int, dict]] = {"ragweave (extensions.backendCalls)": {}, "ragweave (fake counters)": {},
                                         "naive-strawberry": {}, "ragweave-noloaders": {}}
    for k in (1, 10, 50):
        deep = gql("Deep", q=QUERY, k=k)
        calls["ragweave (extensions.backendCalls)"][k] = bench.post(fleet["rwdebug1"], deep)["extensions"][
            "backendCalls"]
        calls["ragweave (fake counters)"][k] = _calls_of(bench, fleet["rw1"], deep)[0]
        calls["naive-strawberry"][k] = _calls_of(bench, fleet["naive1"], deep)[0]
        calls["ragweave-noloaders"][k] = _calls_of(bench, fleet["noload1"], deep)[0]
    deep = bench.post(fleet["rw1"], body)["data"]
    same = deep == bench.post(fleet["naive1"], body)["data"]
    totals = {name: {k: sum(c.values()) for k, c in per_k.items()} for name, per_k in calls.items()}
    rw = totals["ragweave (extensions.backendCalls)"]
    note = " ".join(f"{name}: {'/'.join(map(str, t.values()))};" for name, t in totals.items() if "fake" not in name)
    return {"id": "b", "title": "Deep op (topK 50): CPU per op vs a naive Strawberry server; backend calls vs topK",
            "setup": "1 uvicorn worker each, 4 concurrent clients, zero-latency fakes", "rows": rows,
            "same_data": same, "calls": calls, "call_totals": totals, "response_fields": _fields(deep),
            "checks": [_cpu_check("CPU/op ragweave / naive", rows, "ragweave", "naive-strawberry", 1 / 3),
                       check("backend calls at topK 50 / at topK 1 (constant: 1)", _ratio(rw[50], rw[1]), "<=", 1.0,
                             "x", f"calls for topK 1/10/50 - {note}")]}


OPEN_400 = "ragweave, open loop at 400/s (uvloop, no admission limit)"  # the configuration of the earlier records


def fused_under_latency(bench: Bench, fleet) -> dict:
    m = bench.mode
    body = gql("RetrieveWithEntities", q=QUERY, k=5)
    rows = bench.interleaved({
        "ragweave": (fleet["rw2lat"], body, m.fused, 64, {}),
        **loop_variants(fleet, "rw2lat", 400.0, ADMISSION_C, OPEN_400, (body, m.fused, 64, {})),
        # as many connections as requests per second: the queue forms in the server, not in the load generator
        **loop_variants(fleet, "rw2lat", 400.0, ADMISSION_C, None, (body, m.fused, MANY_CONNECTIONS, {})),
        f"open 400/s: {AS_SHIPPED}": (fleet["rw2lat"], body, m.fused, 64, {"rate": 400.0}),
        f"open 400/s over {MANY_CONNECTIONS} connections: {AS_SHIPPED}":
            (fleet["rw2lat"], body, m.fused, MANY_CONNECTIONS, {"rate": 400.0}),
    })
    rw, offered = rows["ragweave"], rows[OPEN_400]
    return {"id": "c", "title": "retrieve(topK:5) with document and entities, 20 ms vector + 30 ms graph latency",
            "setup": "2 uvicorn workers, 64 concurrent clients: closed loop (each client sends its next request when"
                     " the last is answered), and open loop (400 requests/s offered over the same 64 connections,"
                     " latency counted from each request's scheduled time) on servers with the uvloop or the asyncio"
                     " event loop, with or without the admission limit; then the same over 400 connections; and"
                     " the server as shipped (`rw2lat`, the settings' defaults) over both",
            "rows": rows,
            "checks": [check("p95 latency", rw["p95_ms"], "<=", 120, "ms",
                             f"{OPEN_400}: {offered['p95_ms']} ms; closed loop, 64 clients at 400 ops/s wait "
                             "64/400 s = 160 ms on average (Little's law), so both targets at once need >= 533 ops/s"),
                       check("throughput", rw["ops_per_s"], ">=", 400, "ops/s", f"{OPEN_400}: {offered['ops_per_s']}"),
                       check(f"p95 latency, {OPEN_400}", offered["p95_ms"], "<=", 120, "ms"),
                       check(f"throughput, {OPEN_400}", offered["ops_per_s"], ">=", 400 * 0.98, "ops/s",
                             "the offered rate, less 2% for the ramp")]}


def gateway_overhead(bench: Bench, fleet) -> dict:
    m = bench.mode
    retrieve = gql("RetrieveWithEntities", q=QUERY, k=5)
    rows = bench.interleaved({
        "ragweave": (fleet["rw2lat"], retrieve, m.overhead, 1, {"stats": True, "warmup": 10}),
        REST_FLOOR: (fleet["rest1lat"], REST_RETRIEVE, m.overhead, 1,
                     {"path": "/retrieve", "stats": True, "warmup": 10}),
    })
    for row in rows.values():
        row["overhead_p50_ms"] = round(row["p50_ms"] - CRITICAL_PATH_MS, 3)
        slept = [r["backend"]["slept_s"]["actual_s"] * 1000 / r["requests"] for r in row["reps"]]
        row["actual_sleep_ms_per_op"] = round(sorted(slept)[len(slept) // 2], 3)
        row["overhead_p50_vs_actual_sleep_ms"] = round(row["p50_ms"] - row["actual_sleep_ms_per_op"], 3)
    rw, rest = rows["ragweave"], rows[REST_FLOOR]
    same = (bench.post(fleet["rw2lat"], retrieve)["data"]
            == bench.post(fleet["rest1lat"], REST_RETRIEVE, "/retrieve")["data"])
    return {"id": "d", "title": "Gateway overhead at concurrency 1: end-to-end minus the injected critical path",
            "setup": f"the servers of (c) (2 workers), 1 client, RetrieveWithEntities(topK 5); injected path "
                     f"{CRITICAL_PATH_MS} ms; beside it a plain REST endpoint answering the same JSON over the same "
                     "fakes, the same two backend waits",
            "rows": rows, "same_data": same,
            "checks": [check("p50 overhead (p50 - 50 ms)", rw["overhead_p50_ms"], "<=", 2, "ms",
                             f"the fakes' sleeps actually took {rw['actual_sleep_ms_per_op']} ms per op (late "
                             f"wakes); p50 minus that: {rw['overhead_p50_vs_actual_sleep_ms']} ms; plain REST, "
                             f"same JSON and path: {rest['overhead_p50_ms']} ms")]}


def workers_scale(bench: Bench, fleet) -> dict:
    m = bench.mode
    small = gql("Small", q=QUERY, k=10)
    rows = bench.interleaved({
        "ragweave 1 worker": (fleet["rw1"], small, m.scale, 32, {}),
        "ragweave 2 workers": (fleet["rw2"], small, m.scale, 32, {}),
        "rest 1 worker": (fleet["rest1"], REST_SMALL, m.scale, 32, {"path": "/search"}),
        "rest 2 workers": (fleet["rest2"], REST_SMALL, m.scale, 32, {"path": "/search"}),
    })
    rw = paired(rows, "ragweave 2 workers", "ragweave 1 worker", "ops_per_s")
    rest = paired(rows, "rest 2 workers", "rest 1 worker", "ops_per_s")
    of_medians = _ratio(rows["ragweave 2 workers"]["ops_per_s"], rows["ragweave 1 worker"]["ops_per_s"])
    reps = rows["ragweave 2 workers"]["reps"]
    shares = " ".join("/".join(map(str, r.get("server_cpu_shares", [])[:2])) for r in reps)
    return {"id": "e", "title": "Workers scale: 2 uvicorn workers vs 1 on the Small op",
            "setup": "32 concurrent clients, zero-latency fakes; the load generator shares the 2 cores",
            "rows": rows, "checks": [check("ops/s 2 workers / 1 worker", rw, ">=", 1.7, "x",
                                           f"median of the repetitions' ratios (ratio of the medians: "
                                           f"{of_medians}x); plain REST on the same machine: {rest}x; CPU shares of "
                                           f"the 2 ragweave workers per repetition: {shares}")]}


UPSTREAM_ALONE = "upstream alone (the LLM test server, same load generator)"
UPSTREAM_BODY = json.dumps({"model": "gpt-4o-mini", "messages": [
    {"role": "user", "content": "Summarise the launch plan of the Atlas team in one sentence."}]})


def chat_over_llm(bench: Bench, fleet) -> dict:
    m = bench.mode
    body = gql("Chat", m="Summarise the launch plan of the Atlas team in one sentence.")
    upstream = {"warmup": 100 if m.embedded else 50, "upstream_pid": fleet["openai"].pid}
    rows = bench.interleaved({
        "ragweave": (fleet["chat2"], body, m.chat, 100, upstream),
        UPSTREAM_ALONE: (fleet["openai"], UPSTREAM_BODY, m.chat, 100,
                         {"path": "/v1/chat/completions", "warmup": upstream["warmup"]}),
        **loop_variants(fleet, "chat2", 300.0, ADMISSION_G, OPEN_300, (body, m.chat, 100, upstream)),
    })
    rw, offered, alone = rows["ragweave"], rows[OPEN_300], rows[UPSTREAM_ALONE]
    return {"id": "g", "title": "chat over the OpenAI test server (300 ms upstream latency), 100 concurrent clients",
            "setup": "2 uvicorn workers; the OpenAI test server in its own process (perf/openai_process.py); open loop"
                     " at 300/s on servers with the uvloop or the asyncio event loop, with or without the admission"
                     " limit",
            "rows": rows, "checks": [
                check("throughput", rw["ops_per_s"], ">=", 300, "ops/s",
                      f"{OPEN_300}: {offered['ops_per_s']}; 100 closed-loop clients at 300 ms cannot pass 333 ops/s; "
                      f"the LLM test server alone, same clients: {alone['ops_per_s']} ops/s"),
                check("p95 latency", rw["p95_ms"], "<=", 400, "ms", f"{OPEN_300}: {offered['p95_ms']} ms")]}


STREAMS = {"1000 subscriptions": 1000, "100 subscriptions (reference)": 100}


def streams_once(bench: Bench, fleet, subscriptions: int) -> dict:
    """One run of perf/streams.py against the 1-worker ragweave of scenario (h) and its upstream."""
    server, llm = fleet["stream1"], fleet["openai-streams"]
    args = ["-m", "perf.streams", "--url", server.url("/graphql").replace("http", "ws", 1), "--key", bench.api_key,
            "--upstream", llm.url("/v1"), "--subscriptions", str(subscriptions), "--server-pid", str(server.pid),
            "--upstream-pid", str(llm.pid)]
    return procs.run_json(args, timeout=300)


def _streams_row(reps: list[dict]) -> dict:
    def median(get) -> float | None:
        values = [v for r in reps if (v := get(r)) is not None]
        return round(statistics.median(values), 3) if values else None

    for r in reps:
        r["ratio"] = _ratio(r["ttft"]["p95_ms"], r["upstream_ttft"]["p95_ms"])
        r["ratio_idle"] = _ratio(r["ttft"]["p95_ms"], r["upstream_ttft_idle"]["p95_ms"])
    row = {key: median(lambda r, k=key: r[k]) for key in (
        "ratio", "ratio_idle", "server_cpu_ms_per_stream", "server_busy_cores", "server_runqueue_wait_s",
        "client_cpu_ms_per_stream", "upstream_cpu_ms_per_stream", "other_busy_cores", "elapsed_s")}
    for series in ("ttft", "total", "upstream_ttft", "upstream_ttft_idle"):
        row[series] = {q: median(lambda r, s=series, q=q: r[s][q]) for q in ("p50_ms", "p95_ms", "p99_ms")}
    row["counts"] = [f"{r['opened']}/{r['completed']}/{r['lost']}" for r in reps]
    row["lost"] = sum(r["lost"] for r in reps)
    row["peak_concurrent"] = min(r["peak_concurrent"] for r in reps)
    row["lost_reasons"] = next((r["lost_reasons"] for r in reps if r["lost_reasons"]), {})
    row["reps"] = reps
    return row


def streams_over_llm(bench: Bench, fleet) -> dict:
    runs: dict[str, list[dict]] = {name: [] for name in STREAMS}
    for _ in range(bench.mode.reps):
        for name, subscriptions in STREAMS.items():
            runs[name].append(streams_once(bench, fleet, subscriptions))
    rows = {name: _streams_row(reps) for name, reps in runs.items()}
    main, ref = rows["1000 subscriptions"], rows["100 subscriptions (reference)"]
    first = streams.FIRST_TOKEN_S * 1000
    return {"id": "h", "title": "1,000 concurrent chatStream subscriptions on one worker: time to first ChatDelta",
            "setup": f"1 uvicorn worker; one WebSocket (graphql-transport-ws) per subscription, all opened first, then "
                     f"the subscribes spread over {streams.parser().get_default('ramp')} s; each asks for a "
                     f"{streams.WORDS + 1}-word echo without retrieval grounding; the OpenAI test server (own "
                     f"process) sends its first event after {first:.0f} ms and the next ones "
                     f"{streams.CHUNK_DELAY_S * 1000:.0f} ms apart; upstream TTFT from direct requests of the same "
                     f"client process during the ramp; {bench.mode.reps} repetitions, medians",
            "streams": rows, "checks": [
                check("TTFT p95 / upstream TTFT p95", main["ratio"], "<=", 2.0, "x",
                      f"against the idle upstream: {main['ratio_idle']}x; 100 subscriptions: {ref['ratio']}x"),
                check("subscriptions lost", sum(r["lost"] for r in rows.values()), "<=", 0, "",
                      "opened/completed/lost per repetition: " + "; ".join(
                          f"{name}: {' '.join(r['counts'])}" for name, r in rows.items()))]}


def embedded_scale(bench: Bench, fleet) -> dict:
    result = procs.run_json(["-m", "perf.embedded", "--points", "100000", "--queries", "300"], timeout=900)
    as_is = result["as_is"]
    return {"id": "f", "title": "Embedded scale: qdrant-edge EdgeVectorStore, 100k clustered 384-d chunks",
            "setup": "at the datasource (query_many, top 10), no HTTP; 90% of points in tenant `main`, 1% each in "
                     "ten others", "embedded": result,
            "checks": [check("warm search p95 (as upserts leave the shard: no vector index)", as_is["warm"]["p95_ms"],
                             "<=", 25, "ms"),
                       check("tenant-filtered search p95", as_is["tenant_filtered"]["p95_ms"], "<=", 10, "ms")]}


def _fields(value: object) -> int:
    """Fields in a response: every key of every object, at every depth."""
    if isinstance(value, dict):
        return len(value) + sum(_fields(v) for v in value.values())
    return sum(_fields(v) for v in value) if isinstance(value, list) else 0


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a is not None and b else None
