"""perf/RESULTS.md from the results of one run (perf/results.json holds everything, including each repetition)."""

from __future__ import annotations

from perf import notes

COLUMNS = [("ops/s", "ops_per_s"), ("p50 ms", "p50_ms"), ("p95 ms", "p95_ms"), ("p99 ms", "p99_ms"),
           ("server CPU ms/op", "server_cpu_ms_per_op"), ("client CPU ms/op", "client_cpu_ms_per_op"),
           ("LLM server CPU ms/op", "upstream_cpu_ms_per_op"), ("other load (cores)", "other_busy_cores"),
           ("errors", "errors"), ("shed (503)", "shed"), ("shed %", "shed_pct")]
SHOWN_IF_ANY = {"shed", "shed_pct"}  # only in tables where some run shed requests


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"
    return "—" if value is None else str(value)


def _check_cells(c: dict) -> str:
    verdict = "**pass**" if c["pass"] else f"**MISS** ({c['miss_by']})" if c["miss_by"] else "**MISS**"
    return f"{c['metric']} | {_fmt(c['value'])} {c['unit']} | {c['op']} {_fmt(c['target'])} {c['unit']} | " \
           f"{verdict} | {c['note']} |"


def _rows(rows: dict) -> list[str]:
    columns = [(h, k) for h, k in COLUMNS if any(
        row.get(k) if k in SHOWN_IF_ANY else row.get(k) is not None for row in rows.values())]
    if len({row.get("generator", "httpx") for row in rows.values()}) > 1:  # wrk closed loop, httpx open loop
        columns.insert(0, ("load", "generator"))
    out = ["| variant | requests/rep | " + " | ".join(h for h, _ in columns) + " |",
           "|---|---|" + "---|" * len(columns)]
    for name, row in rows.items():
        out.append(f"| {name} | {row['requests_per_rep']} | " + " | ".join(_fmt(row.get(k)) for _, k in columns) + " |")
    return out


def _streams(rows: dict) -> list[str]:
    out = ["| variant | opened/completed/lost per rep | peak open | TTFT p50 / p95 / p99 ms | upstream TTFT p50 / p95 "
           "ms (same time; idle p95) | TTFT p95 / upstream p95 | server CPU ms/stream | server cores | server CPU "
           "wait s | other load (cores) |", "|---|---|---|---|---|---|---|---|---|---|"]
    for name, r in rows.items():
        t, u, idle = r["ttft"], r["upstream_ttft"], r["upstream_ttft_idle"]
        out.append(f"| {name} | {' '.join(r['counts'])} | {r['peak_concurrent']} | {_fmt(t['p50_ms'])} / "
                   f"{_fmt(t['p95_ms'])} / {_fmt(t['p99_ms'])} | {_fmt(u['p50_ms'])} / {_fmt(u['p95_ms'])} "
                   f"({_fmt(idle['p95_ms'])}) | {_fmt(r['ratio'])} x | {_fmt(r['server_cpu_ms_per_stream'])} | "
                   f"{_fmt(r['server_busy_cores'])} | {_fmt(r['server_runqueue_wait_s'])} | "
                   f"{_fmt(r['other_busy_cores'])} |")
    return out


def _profile(p: dict) -> list[str]:
    if "error" in p or not p.get("samples"):
        return [f"Profile: {p.get('error', 'no samples')}"]
    pkgs = ", ".join(f"{name} {pct}%" for name, pct in p["self_by_package_pct"])
    lines = [f"Profile (py-spy over one more load run of scenario ({p.get('of_scenario')}), "
             f"{p['samples']} on-CPU samples of the server processes). Self time by package: {pkgs}.",
             "", "| top self time | % | top inclusive time | % |", "|---|---|---|---|"]
    if p.get("ragweave_inclusive_pct"):
        own = ", ".join(f"`{f.split(' (')[0]}` {pct}%" for f, pct in p["ragweave_inclusive_pct"])
        lines[0] += f" ragweave's own functions, inclusive: {own}."
    for i in range(max(len(p["top_self_pct"]), len(p["top_inclusive_pct"]))):
        s = p["top_self_pct"][i] if i < len(p["top_self_pct"]) else ["", ""]
        n = p["top_inclusive_pct"][i] if i < len(p["top_inclusive_pct"]) else ["", ""]
        lines.append(f"| `{s[0]}` | {s[1]} | `{n[0]}` | {n[1]} |")
    return lines


def _scenario(s: dict) -> list[str]:
    lines = [f"## ({s['id']}) {s['title']}", ""]
    if "skipped" in s:
        return [*lines, f"Skipped: {s['skipped']}.", ""]
    if "error" in s:
        return [*lines, f"Failed: `{s['error']}` (traceback in results.json).", ""]
    lines += [f"Setup: {s['setup']}. Medians of {len(next(iter(s['rows'].values()))['reps'])} interleaved "
              f"repetitions ({s['seconds']} s)." if "rows" in s else f"Setup: {s['setup']} ({s['seconds']} s).", ""]
    if "rows" in s:
        lines += [*_rows(s["rows"]), ""]
    if "streams" in s:
        lines += [*_streams(s["streams"]), ""]
    for name, error in s.get("measurement_errors", {}).items():
        lines += [f"**Errors during the runs of `{name}`** (first: `{error[:300]}`): not comparable figures.", ""]
    if "same_data" in s:
        lines += [f"Same `data` as the baseline: **{s['same_data']}**.", ""]
    if "calls" in s:
        lines += ["Backend calls per operation (topK 1 / 10 / 50):", "", "| server | backend calls |", "|---|---|"]
        for name, per_k in s["calls"].items():
            totals = " / ".join(str(sum(c.values())) for c in per_k.values())
            detail = ", ".join(f"{k} {v}" for k, v in sorted((per_k.get(50) or per_k.get("50") or {}).items()))
            lines.append(f"| {name} | {totals} (topK 50: {detail}) |")
        lines.append("")
    if "embedded" in s:
        e = s["embedded"]
        lines += ["| shard | warm p50 / p95 / p99 ms | loop stall p99 / max ms | tenant-filtered p50 / p95 / p99 ms "
                  "| loop stall p99 / max ms |", "|---|---|---|---|---|"]
        for label, title in (("as_is", "as upserts leave it (no vector index)"),
                             ("optimized", "after `build_index` (`ragweave ingest`, `ragweave index-vectors`)")):
            if label in e:
                cells = [f"{m['p50_ms']} / {m['p95_ms']} / {m['p99_ms']} | "
                         f"{m.get('loop_stall_p99_ms', '?')} / {m.get('loop_stall_max_ms', '?')}"
                         for m in (e[label]["warm"], e[label]["tenant_filtered"])]
                lines.append(f"| {title} | {cells[0]} | {cells[1]} |")
        lines += ["", f"Ingest {e['ingest']['seconds']} s; index build {e.get('optimize_seconds')} s; RSS after ingest "
                      f"{e.get('rss_mb_after_ingest')} MB, at the end {e.get('rss_mb_end')} MB, peak "
                      f"{e.get('max_rss_mb')} MB.", ""]
    lines += ["| check | measured | target | result | note |", "|---|---|---|---|---|",
              *[f"| {_check_cells(c)}" for c in s["checks"]], ""]
    if "profile" in s:
        lines += [*_profile(s["profile"]), ""]
    why = notes.why(s)
    if why:
        lines += [f"Why: {why}", ""]
    return lines


def render(results: dict, data_file: str = "perf/results.json") -> str:
    m = results["meta"]
    pkgs = ", ".join(f"{k} {v}" for k, v in m["packages"].items() if v)
    lines = [
        "# ragweave perf results", "",
        f"Reproduce: `{m['command']}` (generated file; {data_file} has every repetition).", "",
        f"Mode **{m['mode']}**, commit `{m['git_commit'][:12]}` ({m['git_dirty_files']} uncommitted paths), "
        f"{m['date_utc']}, Python {m['python']}, {m['cpu_count']} CPUs, uvicorn {m['uvicorn_loop_http']}. "
        f"Load average at start {_load(m['loadavg_start'])}, at end {_load(m.get('loadavg_end'))}; run took "
        f"{m.get('duration_s')} s (servers up in {m.get('startup_s')} s).", "", f"Packages: {pkgs}.", "",
        f"Load generator: {notes.generators(m)}", "", notes.method(m), "", "## Summary", "",
        "| scenario | check | measured | target | result | note |", "|---|---|---|---|---|---|",
    ]
    for s in results["scenarios"]:
        lines += [f"| {s['id']} | {_check_cells(c)}" for c in s["checks"]]
        if "skipped" in s or "error" in s:
            lines.append(f"| {s['id']} | {s['title']} | — | — | {'skipped' if 'skipped' in s else 'ERROR'} | "
                         f"{s.get('skipped') or s.get('error')} |")
    lines.append("")
    for s in results["scenarios"]:
        lines += _scenario(s)
    return "\n".join(lines).rstrip() + "\n"


def _load(value: object) -> str:
    return " / ".join(f"{v:.2f}" for v in value) if isinstance(value, list | tuple) else "—"
