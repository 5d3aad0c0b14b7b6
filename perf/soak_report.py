"""perf/SOAK.md from a soak's results: the verdict, figures per operation, and memory over time."""

from __future__ import annotations

import signal
import statistics

MIN_HALF_SAMPLES = 6  # fewer samples in the second half than this: too short to call a trend


def slope_per_min(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of (seconds, MiB) points, in MiB per minute."""
    if len(points) < 3:
        return None
    minutes, values = [t / 60 for t, _ in points], [v for _, v in points]
    mt, mv = statistics.fmean(minutes), statistics.fmean(values)
    spread = sum((t - mt) ** 2 for t in minutes)
    return sum((t - mt) * (v - mv) for t, v in zip(minutes, values, strict=True)) / spread if spread else None


def memory(samples: list[dict]) -> dict:
    """Start, end, max and second-half slope of the whole tree's RSS and of each process in it."""
    half = [s for s in samples if s["t_s"] >= samples[-1]["t_s"] / 2]

    def series(pick) -> dict:
        values = [(s["t_s"], pick(s)) for s in samples if pick(s) is not None]
        later = [(t, v) for t, v in values if t >= half[0]["t_s"]]
        slope = slope_per_min(later)
        return {"start_mib": values[0][1], "end_mib": values[-1][1], "max_mib": max(v for _, v in values),
                "slope_second_half_mib_per_min": round(slope, 3) if slope is not None else None}

    processes = {name: series(lambda s, n=name: (s["processes"].get(n) or {}).get("rss_mib"))
                 for name in samples[0]["processes"]}
    for name, figures in processes.items():
        figures["fds_start"] = samples[0]["processes"][name]["fds"]
        figures["fds_end"] = (samples[-1]["processes"].get(name) or {}).get("fds")
    return {"total": series(lambda s: s["rss_mib"]), "processes": processes, "second_half_samples": len(half)}


def cpu(samples: list[dict]) -> dict:
    """CPU per operation of each server process and of the load client, and how busy the machine was."""
    first, last = samples[0], samples[-1]
    ops, seconds = max(1, last["ops"] - first["ops"]), max(1e-9, last["t_s"] - first["t_s"])
    per_op = {name: round((last["processes"].get(name, p)["cpu_s"] - p["cpu_s"]) * 1000 / ops, 1)
              for name, p in first["processes"].items()}
    client = (last["client_cpu_s"] - first["client_cpu_s"]) * 1000 / ops
    busy = (last["machine_busy_s"] - first["machine_busy_s"]) / seconds
    server = sum(per_op.values()) * ops / 1000 / seconds
    return {"server_ms_per_op": per_op, "client_ms_per_op": round(client, 1), "machine_busy_cores": round(busy, 2),
            "server_cores": round(server, 2)}


def verdict(results: dict) -> dict:
    load, reasons = results["load"], []
    mem = results["memory"] = memory(load["samples"])
    results["cpu"] = cpu(load["samples"])
    if load["errors"]:
        reasons.append(f"{sum(load['errors'].values())} errors: {load['errors']}")
    slope = mem["total"]["slope_second_half_mib_per_min"]
    limit = results["settings"]["max_slope_mib_per_min"]
    if mem["second_half_samples"] < MIN_HALF_SAMPLES:
        trend = "too short to judge a trend"
    elif slope is not None and slope > limit:
        trend = f"GROWING {slope:+.2f} MiB/min over the second half (limit {limit})"
        reasons.append(trend)
    else:
        trend = f"flat: {slope:+.2f} MiB/min over the second half (limit {limit})"
    if results["survivors"]:
        reasons.append(f"processes outlived the run: {results['survivors']}")
    if results.get("server_exit_code") not in (0, -signal.SIGTERM):  # uvicorn re-raises SIGTERM once it is done
        reasons.append(f"the server exited with {results.get('server_exit_code')} after SIGTERM")
    summary = (f"{'PASS' if not reasons else 'FAIL'}: {load['ops']} ops, {load['ops_per_s']} ops/s, "
               f"p99 {load['p99_ms']} ms, errors {sum(load['errors'].values())}, deliberate "
               f"{sum(load['deliberate'].values())}, memory {trend}")
    return {"pass": not reasons, "reasons": reasons, "memory_trend": trend, "summary": summary}


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def _codes(counts: dict) -> str:
    return ", ".join(f"{code} {n}" for code, n in sorted(counts.items())) or "none"


def _operations(load: dict) -> list[str]:
    rows = ["| operation | weight | ops | ops/s | p50 ms | p95 ms | p99 ms | max ms | errors |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for name, op in load["per_op"].items():
        rows.append(f"| {name} | {load['weights'][name]} | {op['ops']} | {op['ops_per_s']} | {_ms(op['p50_ms'])} | "
                    f"{_ms(op['p95_ms'])} | {_ms(op['p99_ms'])} | {_ms(op['max_ms'])} | {_codes(op['errors'])} |")
    return rows


def _memory(results: dict) -> list[str]:
    mem = results["memory"]
    rows = ["| process | RSS start MiB | end MiB | max MiB | slope, second half (MiB/min) | fds start / end |",
            "|---|---:|---:|---:|---:|---|"]
    for name, m in [("whole tree", mem["total"]), *mem["processes"].items()]:
        fds = f"{m['fds_start']} / {m['fds_end']}" if "fds_start" in m else ""
        slope = m["slope_second_half_mib_per_min"]
        rows.append(f"| {name} | {m['start_mib']:.1f} | {m['end_mib']:.1f} | {m['max_mib']:.1f} | "
                    f"{'-' if slope is None else f'{slope:+.3f}'} | {fds} |")
    return rows


def _timeline(samples: list[dict], every_s: float = 60) -> list[str]:
    names = list(samples[0]["processes"])
    rows = ["| t (s) | tree RSS MiB | " + " | ".join(f"{n.split(':')[0]} MiB (anonymous)" for n in names)
            + " | ops so far | ops in window | window p99 ms | errors so far |",
            "|---:|---:|" + "---:|" * len(names) + "---:|---:|---:|---:|"]
    shown, next_t = [], 0.0
    for i, s in enumerate(samples):
        if s["t_s"] >= next_t or i == len(samples) - 1:
            shown.append(s)
            next_t = s["t_s"] + every_s
    for s in shown:
        per = " | ".join(_rss_cell(s["processes"].get(n) or {}) for n in names)
        rows.append(f"| {s['t_s']:.0f} | {s['rss_mib']} | {per} | {s['ops']} | {s['window_ops']} | "
                    f"{_ms(s['window_p99_ms'])} | {s['errors']} |")
    return rows


def _rss_cell(process: dict) -> str:
    if "rss_mib" not in process:
        return "-"
    return f"{process['rss_mib']} ({process['anon_mib']})" if "anon_mib" in process else f"{process['rss_mib']}"


def render(results: dict) -> str:
    meta, load, settings, v = results["meta"], results["load"], results["settings"], results["verdict"]
    packages = ", ".join(f"{k} {val}" for k, val in meta["packages"].items() if val)
    cost_rate = load["samples"][-1]["cost_units"] / load["seconds"] if load["seconds"] else 0
    corpus = results["corpus"]
    lines = [
        "# Soak: ragweave on the embedded defaults under mixed load", "",
        f"**{v['summary']}**", "",
        *(f"- {reason}" for reason in v["reasons"]), *([""] if v["reasons"] else []),
        f"Command: `{meta['command']}` (written by `perf/soak.py`; the machine is shared, expect noise).", "",
        f"Commit `{meta['git_commit']}` ({meta['git_dirty_files']} uncommitted files), {meta['date_utc']}, "
        f"Python {meta['python']}, {meta['cpu_count']} CPUs, {meta['platform']}; load average "
        f"{' / '.join(f'{x:.2f}' for x in meta['loadavg_start'])} at the start, "
        f"{' / '.join(f'{x:.2f}' for x in meta['loadavg_end'])} at the end; the whole run took "
        f"{meta['duration_s']:.0f} s.", "",
        f"Versions: {packages}.", "",
        "## Setup", "",
        f"- `ragweave serve` in its own process on 127.0.0.1: qdrant-edge vectors, the FalkorDB child process, "
        f"MiniLM embeddings, BM25 reranking, API keys (a `writer` key per client, one `admin` key for "
        f"`graphQuery`), default limits (rate {settings['rate_limit']['per_s']:,.0f} cost units/s with a burst of "
        f"{settings['rate_limit']['burst']:,.0f} per key, cost budget {settings['rate_limit']['max_cost']:,} per "
        f"operation); the run spent {cost_rate:,.0f} cost units/s on average, "
        f"{cost_rate / settings['concurrency']:,.0f} per client key.",
        f"- Data: a temporary data dir with the demo corpus ({corpus['documents']} documents, {corpus['chunks']} "
        f"chunks, {corpus['entities']} entities) loaded first with the offline rule extractor ({corpus['seconds']} s).",
        f"- Chat (`chat`, `chatStream` over SSE and WebSocket) and the graph extraction of ingested documents go to "
        f"the OpenAI test server (tests/servers/openai_server.py) in its own process, {settings['llm_latency_s']} s "
        f"per request (the offline default has no chat model: `chat` would answer `LLM_NOT_CONFIGURED`).",
        f"- Load: perf/soak_client.py in its own process, {settings['concurrency']} clients (one keep-alive "
        f"connection each; a fresh WebSocket per `chat-stream-ws`), closed loop for {settings['minutes']} min, "
        f"operations drawn by weight (perf/soak_ops.py); half the questions carry a fresh random token. Ingested "
        f"documents are deleted again by `delete-document` and at the end ({load['cleanup_deleted']} left over).",
        f"- Memory: RSS and open descriptors of the server and its descendants from /proc every "
        f"{settings['sample_s']:.0f} s; `/metrics` is scraped at each sample.", "",
        "## Result", "",
        f"- {load['ops']} operations in {load['seconds']} s: **{load['ops_per_s']} ops/s**; latency p50 "
        f"{_ms(load['p50_ms'])} ms, p95 {_ms(load['p95_ms'])} ms, **p99 {_ms(load['p99_ms'])} ms**, max "
        f"{_ms(load['max_ms'])} ms.",
        f"- Errors: **{_codes(load['errors'])}**.",
        f"- Deliberate over-limit requests, answered with the expected code: {_codes(load['deliberate'])}.",
        f"- `retrieve` answers with `degraded` stages: {_codes(load['degraded'])}.",
        f"- CPU per operation: {', '.join(f'{n} {v} ms' for n, v in results['cpu']['server_ms_per_op'].items())}, "
        f"load client {results['cpu']['client_ms_per_op']} ms; the server used {results['cpu']['server_cores']} "
        f"cores, the whole machine {results['cpu']['machine_busy_cores']} of {meta['cpu_count']}.",
        f"- Server log (perf/out/soak-server.log, uvicorn access lines included): "
        f"{results['server_log']['bytes'] / max(1, load['ops']):,.0f} bytes per operation, "
        f"{results['server_log']['tracebacks']} tracebacks.",
        f"- Memory: {v['memory_trend']}; the server exited with {results.get('server_exit_code')} after SIGTERM; "
        f"processes left afterwards: {len(results['survivors']) or 'none'}.", "",
        *_memory(results), "",
        "## Per operation", "",
        *_operations(load), "",
        "## Memory and latency over time", "",
        *_timeline(load["samples"]), "",
    ]
    if load["error_examples"]:
        lines += ["## First errors of each code", "", *(f"- `{e}`" for e in load["error_examples"]), ""]
    return "\n".join(lines)
