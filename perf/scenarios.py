"""The scenarios (a)-(g). Each starts nothing itself: servers come from the runner's `Fleet`."""

from __future__ import annotations

import json

from perf import procs
from perf.bench import QUERY, Bench, check, gql

C64 = "ragweave, RAGWEAVE_PROVIDER_CONCURRENCY=64"
REST_SMALL = json.dumps({"query": QUERY, "topK": 10})
CRITICAL_PATH_MS = 20 + 30  # RetrieveWithEntities: vector query (20 ms), then chunk.entities (30 ms); embed 0
REST_PATH_MS = 20  # the REST baseline's search: the vector query only
REST_FLOOR = "rest (floor: plain endpoint, same load generator)"


def cpu_small_vs_rest(bench: Bench, fleet) -> dict:
    m = bench.mode
    rows = bench.interleaved({
        "ragweave": (fleet["rw1"], gql("Small", q=QUERY, k=10), m.small, 8, {}),
        "rest": (fleet["rest1"], REST_SMALL, m.small, 8, {"path": "/search"}),
    })
    same = bench.post(fleet["rw1"], gql("Small", q=QUERY, k=10))["data"] == bench.post(
        fleet["rest1"], REST_SMALL, "/search")["data"]
    ratio = _ratio(rows["ragweave"]["server_cpu_ms_per_op"], rows["rest"]["server_cpu_ms_per_op"])
    return {"id": "a", "title": "Small op, zero-latency fakes: server CPU per op, ragweave vs plain REST",
            "setup": "1 uvicorn worker each, 8 concurrent clients, `search(topK:10){score chunk{id text}}`",
            "rows": rows, "same_data": same,
            "checks": [check("CPU/op ragweave / REST", ratio, "<=", 1.5, "x")]}


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
    ratio = _ratio(rows["ragweave"]["server_cpu_ms_per_op"], rows["naive-strawberry"]["server_cpu_ms_per_op"])
    note = " ".join(f"{name}: {'/'.join(map(str, t.values()))};" for name, t in totals.items() if "fake" not in name)
    return {"id": "b", "title": "Deep op (topK 50): CPU per op vs a naive Strawberry server; backend calls vs topK",
            "setup": "1 uvicorn worker each, 4 concurrent clients, zero-latency fakes", "rows": rows,
            "same_data": same, "calls": calls, "call_totals": totals, "response_fields": _fields(deep),
            "checks": [check("CPU/op ragweave / naive", ratio, "<=", 1 / 3, "x"),
                       check("backend calls at topK 50 / at topK 1 (constant: 1)", _ratio(rw[50], rw[1]), "<=", 1.0,
                             "x", f"calls for topK 1/10/50 - {note}")]}


def fused_under_latency(bench: Bench, fleet) -> dict:
    m = bench.mode
    body = gql("RetrieveWithEntities", q=QUERY, k=5)
    rows = bench.interleaved({
        "ragweave": (fleet["rw2lat"], body, m.fused, 64, {}),
    })
    rw = rows["ragweave"]
    return {"id": "c", "title": "retrieve(topK:5) with document and entities, 20 ms vector + 30 ms graph latency",
            "setup": "2 uvicorn workers, 64 concurrent clients (closed loop)", "rows": rows,
            "checks": [check("p95 latency", rw["p95_ms"], "<=", 120, "ms"),
                       check("throughput", rw["ops_per_s"], ">=", 400, "ops/s")]}


def gateway_overhead(bench: Bench, fleet) -> dict:
    m = bench.mode
    rows = bench.interleaved({
        "ragweave": (fleet["rw2lat"], gql("RetrieveWithEntities", q=QUERY, k=5), m.overhead, 1,
                     {"stats": True, "warmup": 10}),
        REST_FLOOR: (fleet["rest1lat"], json.dumps({"query": QUERY, "topK": 5}), m.overhead, 1,
                     {"path": "/search", "stats": True, "warmup": 10}),
    })
    for name, row in rows.items():
        path_ms = CRITICAL_PATH_MS if name == "ragweave" else REST_PATH_MS
        row["overhead_p50_ms"] = round(row["p50_ms"] - path_ms, 3)
        slept = [r["backend"]["slept_s"]["actual_s"] * 1000 / r["requests"] for r in row["reps"]]
        row["actual_sleep_ms_per_op"] = round(sorted(slept)[len(slept) // 2], 3)
        row["overhead_p50_vs_actual_sleep_ms"] = round(row["p50_ms"] - row["actual_sleep_ms_per_op"], 3)
    rw, rest = rows["ragweave"], rows[REST_FLOOR]
    return {"id": "d", "title": "Gateway overhead at concurrency 1: end-to-end minus the injected critical path",
            "setup": f"the servers of (c) (2 workers), 1 client, RetrieveWithEntities(topK 5); injected path "
                     f"{CRITICAL_PATH_MS} ms; beside it the plain REST endpoint over the same fakes (its path: the "
                     f"{REST_PATH_MS} ms vector query)",
            "rows": rows,
            "checks": [check("p50 overhead (p50 - 50 ms)", rw["overhead_p50_ms"], "<=", 2, "ms",
                             f"the fakes' sleeps actually took {rw['actual_sleep_ms_per_op']} ms per op (timer "
                             f"overshoot); p50 minus that: {rw['overhead_p50_vs_actual_sleep_ms']} ms; plain REST "
                             f"with the same load generator: {rest['overhead_p50_ms']} ms over its path")]}


def workers_scale(bench: Bench, fleet) -> dict:
    m = bench.mode
    small = gql("Small", q=QUERY, k=10)
    rows = bench.interleaved({
        "ragweave 1 worker": (fleet["rw1"], small, m.scale, 32, {}),
        "ragweave 2 workers": (fleet["rw2"], small, m.scale, 32, {}),
        "rest 1 worker": (fleet["rest1"], REST_SMALL, m.scale, 32, {"path": "/search"}),
        "rest 2 workers": (fleet["rest2"], REST_SMALL, m.scale, 32, {"path": "/search"}),
    })
    rw = _ratio(rows["ragweave 2 workers"]["ops_per_s"], rows["ragweave 1 worker"]["ops_per_s"])
    rest = _ratio(rows["rest 2 workers"]["ops_per_s"], rows["rest 1 worker"]["ops_per_s"])
    reps = rows["ragweave 2 workers"]["reps"]
    shares = " ".join("/".join(map(str, r.get("server_cpu_shares", [])[:2])) for r in reps)
    return {"id": "e", "title": "Workers scale: 2 uvicorn workers vs 1 on the Small op",
            "setup": "32 concurrent clients, zero-latency fakes; the load generator shares the 2 cores",
            "rows": rows, "checks": [check("ops/s 2 workers / 1 worker", rw, ">=", 1.7, "x",
                                           f"plain REST on the same machine: {rest}x; CPU shares of the 2 ragweave "
                                           f"workers per repetition: {shares}")]}


def chat_over_llm(bench: Bench, fleet) -> dict:
    m = bench.mode
    body = gql("Chat", m="Summarise the launch plan of the Atlas team in one sentence.")
    upstream = {"warmup": 100 if m.embedded else 50, "upstream_pid": fleet["openai"].pid}
    rows = bench.interleaved({
        "ragweave": (fleet["chat2"], body, m.chat, 100, upstream),
        C64: (fleet["chat2c64"], body, m.chat, 100, upstream),
    })
    rw, c64 = rows["ragweave"], rows[C64]
    return {"id": "g", "title": "chat over the OpenAI test server (300 ms upstream latency), 100 concurrent clients",
            "setup": "2 uvicorn workers; the OpenAI test server in its own process (perf/openai_process.py)",
            "rows": rows, "checks": [
                check("throughput", rw["ops_per_s"], ">=", 300, "ops/s", f"{C64}: {c64['ops_per_s']}"),
                check("p95 latency", rw["p95_ms"], "<=", 400, "ms", f"{C64}: {c64['p95_ms']}")]}


def embedded_scale(bench: Bench, fleet) -> dict:
    result = procs.run_json(["-m", "perf.embedded", "--points", "100000", "--queries", "300"], timeout=900)
    as_is = result["as_is"]
    return {"id": "f", "title": "Embedded scale: qdrant-edge EdgeVectorStore, 100k clustered 384-d chunks",
            "setup": "at the datasource (query_many, top 10), no HTTP; 90% of points in tenant `main`, 1% each in "
                     "ten others", "embedded": result,
            "checks": [check("warm search p95 (as ragweave leaves the shard)", as_is["warm"]["p95_ms"], "<=", 25, "ms"),
                       check("tenant-filtered search p95", as_is["tenant_filtered"]["p95_ms"], "<=", 10, "ms")]}


def _fields(value: object) -> int:
    """Fields in a response: every key of every object, at every depth."""
    if isinstance(value, dict):
        return len(value) + sum(_fields(v) for v in value.values())
    return sum(_fields(v) for v in value) if isinstance(value, list) else 0


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a is not None and b else None
