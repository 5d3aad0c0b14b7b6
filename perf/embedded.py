"""Scenario (f): ragweave's EdgeVectorStore (qdrant-edge, in-process) at 100k chunks, measured at the datasource.

    python -m perf.embedded --points 100000 --queries 200

Vectors are random but clustered (200 centres, 384-d, unit length), deterministic. Tenant `main` owns 90% of the
points, ten small tenants 1% each: "warm search" is a top-10 query as `main` (the tenant filter keeps 90%),
"tenant-filtered" a top-10 query as a small tenant (1%). Both go through `query_many`, as the resolvers do.
Measured twice: as upserts leave the shard (ingestion through the API: no vector index), then after
`build_index` (what `ragweave ingest` ends with and `ragweave index-vectors` runs). Beside each search, a task
ticking every 0.5 ms on the same event loop reports the loop's longest stall: qdrant-edge keeps the GIL for the
whole of each call, so a search stalls everything else in its process for about as long as it takes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import statistics
import time
from pathlib import Path

import numpy as np

from perf.load import percentile
from ragweave import records
from ragweave.datasources.vectors import ChunkPoint, VectorQuery
from ragweave.datasources.vectors_edge import EdgeVectorStore

DIM, CENTRES = 384, 200


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def clustered(rng: np.random.Generator, centres: np.ndarray, count: int) -> np.ndarray:
    points = centres[rng.integers(0, len(centres), count)] + rng.normal(0, 0.35, (count, DIM))
    return (points / np.linalg.norm(points, axis=1, keepdims=True)).astype(np.float32)


async def ingest(store: EdgeVectorStore, rng: np.random.Generator, centres: np.ndarray, points: int) -> dict:
    small = points // 100
    plan = [("main", points - 10 * small)] + [(f"t{i:02d}", small) for i in range(10)]
    started = time.perf_counter()
    for tenant, count in plan:
        for offset in range(0, count, 2000):
            batch = clustered(rng, centres, min(2000, count - offset))
            await store.upsert(tenant, "chunks", [
                ChunkPoint(records.Chunk(f"d{offset + i}#0", f"d{offset + i}", 0, f"chunk {offset + i}"), v, "h")
                for i, v in enumerate(batch.tolist())
            ])
    return {"seconds": round(time.perf_counter() - started, 1), "tenants": dict(plan)}


async def _ticks(gaps: list[float], stop: asyncio.Event) -> None:
    last = time.perf_counter()
    while not stop.is_set():
        await asyncio.sleep(0.0005)
        now = time.perf_counter()
        gaps.append((now - last) * 1000)
        last = now


async def measure(store: EdgeVectorStore, rng: np.random.Generator, centres: np.ndarray, tenant: str, n: int):
    queries = clustered(rng, centres, n + 10).tolist()
    for q in queries[:10]:  # warm-up
        await store.query_many(tenant, "chunks", [VectorQuery(tuple(q), 10)])
    ms, gaps, stop = [], [], asyncio.Event()
    ticker = asyncio.create_task(_ticks(gaps, stop))
    for q in queries[10:]:
        started = time.perf_counter()
        [hits] = await store.query_many(tenant, "chunks", [VectorQuery(tuple(q), 10)])
        ms.append((time.perf_counter() - started) * 1000)
        assert len(hits) == 10
    stop.set()
    await ticker
    return {"p50_ms": round(percentile(ms, 0.5), 2), "p95_ms": round(percentile(ms, 0.95), 2),
            "p99_ms": round(percentile(ms, 0.99), 2), "mean_ms": round(statistics.fmean(ms), 2), "queries": n,
            "loop_stall_p99_ms": round(percentile(gaps, 0.99), 2), "loop_stall_max_ms": round(max(gaps), 2)}


async def main(args: argparse.Namespace) -> dict:
    root = Path(args.dir)
    shutil.rmtree(root, ignore_errors=True)
    rng = np.random.default_rng(7)
    centres = rng.normal(0, 1, (CENTRES, DIM))
    store = EdgeVectorStore(root, DIM)
    result: dict[str, object] = {"points": args.points, "rss_mb_start": round(rss_mb(), 1)}
    try:
        result["ingest"] = await ingest(store, rng, centres, args.points)
        result["rss_mb_after_ingest"] = round(rss_mb(), 1)
        result["as_is"] = {"warm": await measure(store, rng, centres, "main", args.queries),
                           "tenant_filtered": await measure(store, rng, centres, "t03", args.queries)}
        started = time.perf_counter()
        built = await asyncio.wait_for(store.build_index("chunks", 1), args.optimize_timeout)
        result["optimize_seconds"] = round(time.perf_counter() - started, 1)
        result["indexed_vectors"] = built.indexed_after if built else 0
        result["optimized"] = {"warm": await measure(store, rng, centres, "main", args.queries),
                               "tenant_filtered": await measure(store, rng, centres, "t03", args.queries)}
        result["rss_mb_end"] = round(rss_mb(), 1)
    except TimeoutError:  # the build cannot be interrupted: report and leave without waiting for its thread
        result["optimize_seconds"] = f"> {args.optimize_timeout} (gave up)"
        print(json.dumps(result), flush=True)
        os._exit(0)
    finally:
        result["max_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
        await store.close()
        shutil.rmtree(root, ignore_errors=True)
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--optimize-timeout", type=float, default=300)
    parser.add_argument("--dir", default=str(Path(__file__).parent / "out" / "edge"))
    print(json.dumps(asyncio.run(main(parser.parse_args()))))
