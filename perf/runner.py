"""`perf/run --quick | --full`: start every server on 127.0.0.1, run the scenarios, write perf/RESULTS.md and
perf/results.json (with --only: perf/out/RESULTS-partial.md and results-partial.json), stop everything that
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
from pathlib import Path

from perf import procs, profile, report, scenarios, streams, wrk_fetch
from perf.bench import FULL, QUERY, QUICK, Bench, gql
from ragweave.auth import KeyStore

SCENARIOS = [
    ("a", scenarios.cpu_small_vs_rest), ("b", scenarios.deep_vs_naive), ("c", scenarios.fused_under_latency),
    ("d", scenarios.gateway_overhead), ("e", scenarios.workers_scale), ("f", scenarios.embedded_scale),
    ("g", scenarios.chat_over_llm), ("h", scenarios.streams_over_llm),
]
PERF = procs.ROOT / "perf"
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
        "rw2lat": {"app": "ragweave", "workers": 2, **latency}, "rest1lat": {"app": "rest", **latency},
        "chat2": {"app": "ragweave", "workers": 2, "extra_env": chat_env},
        "stream1": {"app": "ragweave", "extra_env": {"OPENAI_BASE_URL": streams_url, "OPENAI_API_KEY": "perf"}},
        "rw1-asyncio": {"app": "ragweave", "loop": "asyncio"},
        **{f"rw1-skip-{skip}": {"app": "ragweave", "extra_env": {"PERF_SKIP": skip}} for skip in scenarios.SKIPS},
        **loop_servers("rw2lat", latency, {}, scenarios.ADMISSION_C),
        **loop_servers("chat2", {}, chat_env, scenarios.ADMISSION_G),
    }


def loop_servers(name: str, latency: dict, env: dict[str, str], limit: int) -> dict[str, dict]:
    """`<name>-<loop>` without the admission limit and `<name>-<loop>-limit` with it, for (c) and (g)."""
    return {f"{name}-{loop}{suffix}": {"app": "ragweave", "workers": 2, "loop": loop, **latency,
                                       "extra_env": {**env, **scenarios.admission_env(limit if suffix else 0)}}
            for loop, suffix in scenarios.LOOP_VARIANTS}


# the servers each scenario measures ("openai" and "openai-streams" are the LLM test servers chat2 and stream1 call)
LOOPS_OF = [f"{loop}{suffix}" for loop, suffix in scenarios.LOOP_VARIANTS]
SERVERS_OF = {"a": ["rw1", "rw1-asyncio", "rest1", *(f"rw1-skip-{skip}" for skip in scenarios.SKIPS)],
              "b": ["rw1", "naive1", "noload1", "rwdebug1"],
              "c": ["rw2lat", *(f"rw2lat-{v}" for v in LOOPS_OF)], "d": ["rw2lat", "rest1lat"],
              "e": ["rw1", "rw2", "rest1", "rest2"], "f": [],
              "g": ["chat2", "openai", *(f"chat2-{v}" for v in LOOPS_OF)], "h": ["stream1", "openai-streams"]}


def start_fleet(data_dir: str, openai_url: str, streams_url: str, names: set[str]) -> dict[str, procs.Server]:
    fleet, starts = {}, {}
    for name, spec in fleet_spec(openai_url, streams_url).items():
        if name not in names:
            continue
        env = {"RAGWEAVE_DATA_DIR": data_dir, **UNLIMITED, **spec.pop("extra_env", {})}
        app = spec.pop("app")
        starts[name] = functools.partial(procs.start_fake_server, name, app, extra_env=env, **spec)
        fleet[name] = starts[name]()
    for name, server in fleet.items():
        try:
            procs.wait_ready(server.proc, server.url("/healthz"))
        except RuntimeError:
            if "address already in use" not in (procs.OUT / f"{name}.log").read_text(errors="replace"):
                raise
            # another process bound its port between the choice and the server's bind: once more, on another one
            fleet[name] = starts[name]()
            procs.wait_ready(fleet[name].proc, fleet[name].url("/healthz"))
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


def load_generator(choice: str) -> tuple[wrk_fetch.Wrk | None, dict]:
    """wrk for the closed-loop runs (--load wrk, when it can be had), and what meta records of the choice."""
    tool = wrk_fetch.find() if choice == "wrk" else "--load python"
    if isinstance(tool, wrk_fetch.Wrk):
        return tool, {"closed_loop": tool.describe(), "wrk_missing": None}
    return None, {"closed_loop": "perf/load.py", "wrk_missing": tool}


def run(args: argparse.Namespace) -> dict:
    mode = FULL if args.full else QUICK
    started = time.monotonic()
    results = {"meta": metadata(args), "scenarios": []}
    tool, generator = load_generator(args.load)
    results["meta"]["load_generator"] = generator
    missing = f" (no wrk: {generator['wrk_missing']})" if generator["wrk_missing"] else ""
    print(f"[perf] closed-loop load generator: {generator['closed_loop']}{missing}", flush=True)
    data_dir = procs.OUT / "data"
    shutil.rmtree(data_dir, ignore_errors=True)
    _, api_key = KeyStore(data_dir / "keys.json").create("default", "reader")
    streams.nofile_at_least(4096)  # (h): ~1,000 sockets in ragweave and in its upstream; the children inherit it
    chosen = [(sid, scenario) for sid, scenario in SCENARIOS if not args.only or sid in args.only.split(",")]
    names = {name for sid, _ in chosen if sid != "f" or mode.embedded for name in SERVERS_OF[sid]}
    print(f"[perf] starting servers ({mode.name}): {', '.join(sorted(names))}", flush=True)
    openai_port, streams_port = procs.free_port(), procs.free_port()
    upstreams = {
        "openai": (openai_port, ["--latency", "0.3"]),
        "openai-streams": (streams_port, ["--latency", "0", "--first-token", str(streams.FIRST_TOKEN_S),
                                          "--chunk-delay", str(streams.CHUNK_DELAY_S)]),
    }
    started_upstreams = {
        name: procs.spawn(name, ["-m", "perf.openai_process", "--port", str(port), *options])
        for name, (port, options) in upstreams.items() if name in names
    }
    fleet = start_fleet(str(data_dir), f"http://127.0.0.1:{openai_port}/v1", f"http://127.0.0.1:{streams_port}/v1",
                        names)
    for name, proc in started_upstreams.items():
        port = upstreams[name][0]
        procs.wait_ready(proc, f"http://127.0.0.1:{port}/v1/models")
        fleet[name] = procs.Server(name, proc, port)
    results["meta"]["startup_s"] = round(time.monotonic() - started, 1)
    bench = Bench(mode, api_key, tool)
    for sid, scenario in chosen:
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


def outputs(args: argparse.Namespace) -> tuple[Path, Path]:
    """Where a run's results go: the full record in perf/, a quick run beside it under its own name, a run of
    some scenarios (--only) in perf/out/ (git-ignored), so neither overwrites the full record."""
    if args.only:
        return procs.OUT / "results-partial.json", procs.OUT / "RESULTS-partial.md"
    if args.quick:
        return PERF / "results-quick.json", PERF / "RESULTS-quick.md"
    return PERF / "results.json", PERF / "RESULTS.md"


def main() -> int:
    parser = argparse.ArgumentParser(prog="perf/run", description=__doc__)
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--quick", action="store_true", help="development run, under ~3 minutes")
    group.add_argument("--full", action="store_true", help="the record: more requests, 5 repetitions, (f)")
    group.add_argument("--render", action="store_true", help="only rewrite RESULTS*.md from results*.json")
    parser.add_argument("--only", help="scenario ids, e.g. a,b: only their servers start; results go to perf/out/")
    parser.add_argument("--no-profile", action="store_true", help="skip py-spy profiles of missed targets")
    parser.add_argument("--load", choices=["wrk", "python"], default="wrk",
                        help="closed-loop runs: wrk (default; perf/load.py when wrk cannot be had) or perf/load.py; "
                             "open-loop runs always use perf/load.py")
    args = parser.parse_args()
    if args.render:
        for data, page in [(PERF / "results.json", PERF / "RESULTS.md"),
                           (PERF / "results-quick.json", PERF / "RESULTS-quick.md")]:
            if data.exists():
                page.write_text(report.render(json.loads(data.read_text()), f"perf/{data.name}"))
        return 0
    try:
        results = run(args)
    finally:
        procs.stop_all()
    data, page = outputs(args)
    procs.OUT.mkdir(parents=True, exist_ok=True)
    data.write_text(json.dumps(results, indent=1) + "\n")
    page.write_text(report.render(results, str(data.relative_to(procs.ROOT))))
    where = f"{page.relative_to(procs.ROOT)} and {data.relative_to(procs.ROOT)}"
    print(f"[perf] wrote {where} in {results['meta']['duration_s']}s", flush=True)
    failed = [s["id"] for s in results["scenarios"] if "error" in s]
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
