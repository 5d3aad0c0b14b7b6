"""Server CPU per operation of ragweave built from two or more checkouts, side by side under the same load:
`python -m perf.ab --tree ../base --tree . [--op Small] [--reps 7] [--requests 20000] [--concurrency 8]`.

For a change worth a few percent, less than the spread of perf/run's (a) between runs: longer runs, paired within
each repetition, narrow that spread but do not remove it on a shared machine (+-5% between runs here), so read them
beside `perf.instructions`, which does not depend on the machine. Each tree (e.g. `git worktree add ../base
<commit>`) serves `perf.serve_fakes --app ragweave` from its own checkout, one uvicorn worker on the zero-latency
fakes as in (a), beside the REST baseline of the first tree. The runs are interleaved (every server once per
repetition, in the order given) under a closed loop of wrk (perf/wrk.py: a fixed count of requests, the server's CPU
from its CPU-time clock around the run; perf/load.py with `--load python` or without wrk), after one warm-up
repetition that is not counted. Before the servers start, each tree is checked to import its own ragweave (a tree
without its own package would run another's). Prints, per server, the median server CPU per op, the medians of its
ratios to REST's and to the first server's in the same repetition, and every repetition's figure.
"""

from __future__ import annotations

import argparse
import datetime
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

from perf import procs
from perf.bench import QUERY, Bench, Mode, gql, paired
from perf.runner import UNLIMITED, load_generator
from perf.scenarios import REST_RETRIEVE, REST_SMALL
from ragweave.auth import KeyStore

REST = {"Small": ("/search", 10, REST_SMALL), "RetrieveWithEntities": ("/retrieve", 5, REST_RETRIEVE)}


def _commit(tree: Path) -> str:
    done = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=tree, capture_output=True, text=True)
    return done.stdout.strip() or "?"


def _imported(tree: Path) -> Path | None:
    """The ragweave package a server started in `tree` imports (the same interpreter, directory and PYTHONPATH)."""
    done = subprocess.run([sys.executable, "-c", "import ragweave; print(ragweave.__file__)"], cwd=tree,
                          env=procs.env(PYTHONPATH=str(tree)), capture_output=True, text=True)
    return Path(done.stdout.strip()).resolve().parent if done.returncode == 0 else None


def _servers(trees: list[Path], data_dir: Path) -> dict[str, procs.Server]:
    for tree in trees:
        imported = _imported(tree)
        if imported != (tree / "ragweave").resolve():
            raise RuntimeError(f"a server started in {tree} would import {imported or 'no'} ragweave, not its own")
    env = {"RAGWEAVE_DATA_DIR": str(data_dir), **UNLIMITED}
    servers = {f"ragweave {i + 1}: {tree} ({_commit(tree)})": procs.start_fake_server(f"ab-{i + 1}", "ragweave",
                                                                                     extra_env=env, root=tree)
               for i, tree in enumerate(trees)}
    servers["rest"] = procs.start_fake_server("ab-rest", "rest", extra_env=env, root=trees[0])
    for server in servers.values():
        procs.wait_ready(server.proc, server.url("/healthz"))
    return servers


def compare(trees: list[Path], op: str, reps: int, requests: int, concurrency: int, load: str) -> str:
    """The comparison's report (markdown)."""
    data_dir = procs.OUT / "ab-data"
    shutil.rmtree(data_dir, ignore_errors=True)
    _, api_key = KeyStore(data_dir / "keys.json").create("default", "reader")
    tool, generator = load_generator(load)
    bench = Bench(Mode("ab", reps + 1, requests, 0, 0, 0, 0, 0, False, 120, reps + 1), api_key, tool)
    path, top_k, rest_body = REST[op]
    try:
        servers = _servers(trees, data_dir)
        body = gql(op, q=QUERY, k=top_k)
        runs = {name: (server, body, requests, concurrency, {}) for name, server in servers.items()}
        runs["rest"] = (servers["rest"], rest_body, requests, concurrency, {"path": path})
        results = bench.interleaved(runs)
    finally:
        procs.stop_all()
    counted = {name: {"reps": result["reps"][1:]} for name, result in results.items()}  # the first warms up
    cpu = {name: [r["server_cpu_ms_per_op"] for r in rows["reps"]] for name, rows in counted.items()}
    errors = {name: sum(r["errors"] for r in result["reps"]) for name, result in results.items()}
    lines = [f"A/B of server CPU per `{op}` op: {reps} repetitions of {requests} requests, {concurrency} connections,"
             f" {generator['closed_loop']}, {datetime.datetime.now(datetime.UTC).isoformat(timespec='seconds')}", "",
             "| server | CPU ms/op (median) | / REST (median) | / the first (median) | errors | every repetition |",
             "|---|---|---|---|---|---|"]
    first, key = next(iter(cpu)), "server_cpu_ms_per_op"
    for name, values in cpu.items():
        lines.append(f"| {name} | {statistics.median(values):.4f} | {paired(counted, name, 'rest', key):.3f} | "
                     f"{paired(counted, name, first, key):.3f} | {errors[name]} | "
                     f"{' '.join(f'{v:.4f}' for v in values)} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tree", type=Path, action="append", required=True,
                        help="a checkout of the repository (repeat: two or more)")
    parser.add_argument("--op", default="Small", choices=sorted(REST))
    parser.add_argument("--reps", type=int, default=7, help="counted repetitions (one more warms up)")
    parser.add_argument("--requests", type=int, default=20000, help="requests per server per repetition")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--load", default="wrk", choices=["wrk", "python"])
    args = parser.parse_args()
    print(compare([tree.resolve() for tree in args.tree], args.op, args.reps, args.requests, args.concurrency,
                  args.load), flush=True)


if __name__ == "__main__":
    main()
