"""`perf/run --quick | --full`: start every server on 127.0.0.1, run the scenarios, write perf/RESULTS.md and
perf/results.json (with --only: perf/out/RESULTS-only-<ids>.md and results-only-<ids>.json), stop everything that
was started (also on failure and Ctrl-C)."""

from __future__ import annotations

import argparse
import datetime
import functools
import importlib.metadata
import json
import os
import platform
import shutil
import subprocess
import sys
import time
import traceback

from perf import procs, profile, report, scenarios, streams
from perf.bench import FULL, QUERY, QUICK, Bench, gql
from ragweave.auth import KeyStore

SCENARIOS = [
    ("a", scenarios.cpu_small_vs_rest), ("b", scenarios.deep_vs_naive), ("c", scenarios.fused_under_latency),
    ("d", scenarios.gateway_overhead), ("e", scenarios.workers_scale), ("f", scenarios.embedded_scale),
    ("g", scenarios.chat_over_llm), ("h", scenarios.streams_over_llm),
]
PACKAGES = ["strawberry-graphql", "graphql-core", "starlette", "uvicorn", "uvloop", "httptools", "httpx",
            "aiodataloader", "openai", "qdrant-edge-py", "numpy", "py-spy"]


# One API key drives all the load: its rate limit is raised out of the way (the limiter still runs on every request).
UNLIMITED = {"RAGWEAVE_RATE_PER_S": str(10**9), "RAGWEAVE_RATE_BURST": str(10**9)}


def fleet_spec(openai_url: str, streams_url: str) -> dict[str, dict]:
    latency = {"vector_ms": 20, "graph_ms": 30}
    chat_env = {"OPENAI_BASE_URL": openai_url, "OPENAI_API_KEY": "perf"}
    return {
        "rw1": {"app": "ragweave"}, "rest1": {"app": "rest"}, "naive1": {"app": "naive"},
        "noload1": {"app": "noloaders"}, "rwdebug1": {"app": "ragweave", "debug": True},
        "rw2": {"app": "ragweave", "workers": 2}, "rest2": {"app": "rest", "workers": 2},
        "rw2lat": {"app": "ragweave", "workers": 2, **latency},
        "chat2": {"app": "ragweave", "workers": 2, "extra_env": chat_env},
        "stream1": {"app": "ragweave", "extra_env": {"OPENAI_BASE_URL": streams_url, "OPENAI_API_KEY": "perf"}},
    }


def start_fleet(data_dir: str, openai_url: str, streams_url: str) -> dict[str, procs.Server]:
    fleet = {}
    for name, spec in fleet_spec(openai_url, streams_url).items():
        env = {"RAGWEAVE_DATA_DIR": data_dir, **UNLIMITED, **spec.pop("extra_env", {})}
        fleet[name] = procs.start_fake_server(name, spec.pop("app"), extra_env=env, **spec)
    for server in fleet.values():
        procs.wait_ready(server.proc, server.url("/healthz"))
    return fleet


def profile_targets(bench: Bench, fleet: dict[str, procs.Server]) -> dict[str, tuple]:
    m = bench.mode
    return {
        "a": ("rw1", gql("Small", q=QUERY, k=10), m.small, 8),
        "b": ("rw1", gql("Deep", q=QUERY, k=50), m.deep, 4),
        "c": ("rw2lat", gql("RetrieveWithEntities", q=QUERY, k=5), m.fused, 64),
        "e": ("rw2", gql("Small", q=QUERY, k=10), m.scale, 32),
        "g": ("chat2", gql("Chat", m="Summarise the launch plan of the Atlas team."), m.chat, 100),
    }


SAME_PATH = {"d": "c", "e": "a"}  # scenarios whose server-side hot path another scenario's profile shows


def profile_misses(bench: Bench, fleet: dict[str, procs.Server], outcomes: list[dict]) -> None:
    """py-spy over one more load run of each scenario that missed a target (ragweave as it is)."""
    targets, done = profile_targets(bench, fleet), {}
    for outcome in outcomes:
        sid = SAME_PATH.get(outcome["id"], outcome["id"])
        if (sid not in targets and sid != "h") or all(c["pass"] for c in outcome["checks"]):
            continue
        if sid not in done:
            if sid == "h":
                name, run_load = "stream1", functools.partial(scenarios.streams_once, bench, fleet, 1000)
            else:
                name, body, requests, concurrency = targets[sid]
                run_load = functools.partial(bench.load, fleet[name], body, requests, concurrency)
            done[sid] = profile.record(sid, fleet[name], run_load)
            print(f"[perf] profiled ({sid})", flush=True)
        outcome["profile"] = {**done[sid], "of_scenario": sid}


def metadata(args: argparse.Namespace) -> dict:
    def git(*cmd: str) -> str:
        return subprocess.run(["git", *cmd], cwd=procs.ROOT, capture_output=True, text=True).stdout.strip()

    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "command": os.environ.get("PERF_COMMAND") or " ".join(["perf/run", *sys.argv[1:]]),
        "mode": "full" if args.full else "quick", "git_commit": git("rev-parse", "HEAD"),
        "git_dirty_files": len(git("status", "--porcelain").splitlines()),
        "date_utc": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(), "python_executable": sys.executable, "packages": versions,
        "cpu_count": os.cpu_count(), "cpu_affinity": len(os.sched_getaffinity(0)), "platform": platform.platform(),
        "loadavg_start": os.getloadavg(), "uvicorn_loop_http": "uvloop+httptools (auto)"
        if versions["uvloop"] and versions["httptools"] else "asyncio+h11 (auto)",
    }


def run(args: argparse.Namespace) -> dict:
    mode = FULL if args.full else QUICK
    started = time.monotonic()
    results = {"meta": metadata(args), "scenarios": []}
    data_dir = procs.OUT / "data"
    shutil.rmtree(data_dir, ignore_errors=True)
    _, api_key = KeyStore(data_dir / "keys.json").create("default", "reader")
    streams.nofile_at_least(4096)  # (h): ~1,000 sockets in ragweave and in its upstream; the children inherit it
    openai_port, streams_port = procs.free_port(), procs.free_port()
    openai = procs.spawn("openai", ["-m", "perf.openai_process", "--port", str(openai_port), "--latency", "0.3"])
    upstream = procs.spawn("openai-streams", [
        "-m", "perf.openai_process", "--port", str(streams_port), "--latency", "0",
        "--first-token", str(streams.FIRST_TOKEN_S), "--chunk-delay", str(streams.CHUNK_DELAY_S)])
    print(f"[perf] starting servers ({mode.name})", flush=True)
    fleet = start_fleet(str(data_dir), f"http://127.0.0.1:{openai_port}/v1", f"http://127.0.0.1:{streams_port}/v1")
    procs.wait_ready(openai, f"http://127.0.0.1:{openai_port}/v1/models")
    procs.wait_ready(upstream, f"http://127.0.0.1:{streams_port}/v1/models")
    fleet["openai"] = procs.Server("openai", openai, openai_port)
    fleet["openai-streams"] = procs.Server("openai-streams", upstream, streams_port)
    results["meta"]["startup_s"] = round(time.monotonic() - started, 1)
    bench = Bench(mode, api_key)
    only = set(args.only.split(",")) if args.only else None
    for sid, scenario in SCENARIOS:
        if only and sid not in only:
            continue
        if sid == "f" and not mode.embedded:
            results["scenarios"].append({"id": "f", "title": "Embedded scale (qdrant-edge, 100k chunks)",
                                         "skipped": "runs only with --full", "checks": []})
            continue
        t0 = time.monotonic()
        try:
            outcome = scenario(bench, fleet)
        except Exception as exc:  # a failed scenario is reported, the others still run
            outcome = {"id": sid, "title": scenario.__name__, "error": f"{type(exc).__name__}: {exc}",
                       "traceback": traceback.format_exc(), "checks": []}
        outcome["seconds"] = round(time.monotonic() - t0, 1)
        failed = {n: r["first_error"] for n, r in outcome.get("rows", {}).items() if r.get("errors")}
        if failed:  # figures over failed requests are not comparable: say so next to every check
            outcome["measurement_errors"] = failed
            for c in outcome["checks"]:
                c["note"] = f"INVALID: errors during the runs ({', '.join(failed)}). {c['note']}"
        results["scenarios"].append(outcome)
        print(f"[perf] ({sid}) {outcome['seconds']}s " + "; ".join(
            f"{c['metric']}={c['value']} {'PASS' if c['pass'] else 'MISS'}" for c in outcome["checks"])
            + (f" ERROR {outcome['error']}" if "error" in outcome else ""), flush=True)
    if not args.no_profile:
        profile_misses(bench, fleet, results["scenarios"])
    results["meta"]["loadavg_end"] = os.getloadavg()
    results["meta"]["duration_s"] = round(time.monotonic() - started, 1)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(prog="perf/run", description=__doc__)
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--quick", action="store_true", help="development run, under ~3 minutes")
    group.add_argument("--full", action="store_true", help="the record: more requests, 5 repetitions, (f)")
    group.add_argument("--render", action="store_true", help="only rewrite RESULTS.md from results.json")
    parser.add_argument("--only", help="comma-separated scenario ids, e.g. a,b (results go to perf/out/, not the "
                                       "record)")
    parser.add_argument("--no-profile", action="store_true", help="skip py-spy profiles of missed targets")
    args = parser.parse_args()
    if args.render:
        results = json.loads((procs.ROOT / "perf" / "results.json").read_text())
        (procs.ROOT / "perf" / "RESULTS.md").write_text(report.render(results))
        return 0
    try:
        results = run(args)
    finally:
        procs.stop_all()
    folder, suffix = procs.ROOT / "perf", ""
    if args.only:  # a subset is not the record: perf/RESULTS.md keeps every scenario of the last whole run
        folder, suffix = procs.OUT, "-only-" + args.only.replace(",", "")
    md, raw = folder / f"RESULTS{suffix}.md", folder / f"results{suffix}.json"
    raw.write_text(json.dumps(results, indent=1) + "\n")
    md.write_text(report.render(results))
    print(f"[perf] wrote {md.relative_to(procs.ROOT)} and {raw.name} in {results['meta']['duration_s']}s", flush=True)
    failed = [s["id"] for s in results["scenarios"] if "error" in s]
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
