"""Serve one app under test on the fake datasources: `python -m perf.serve_fakes --app ragweave --port 8123`.

Apps: `ragweave` (create_app with open_ds=fakes), `noloaders` (the same with every DataLoader dispatching each
load immediately, uncached), `rest` (perf/baselines/rest.py), `naive` (perf/baselines/naive_strawberry.py).
The configuration travels in PERF_* environment variables so that uvicorn's worker processes see it too;
ragweave's own RAGWEAVE_*/OPENAI_* variables (e.g. OPENAI_BASE_URL for chat) are read as usual.
GET /perf/calls answers this process's fake backend call counts and its injected sleep totals.
"""

from __future__ import annotations

import argparse
import os

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ragweave import workers


async def perf_calls(request: Request) -> JSONResponse:
    from perf import fakes

    return JSONResponse({"pid": os.getpid(), "calls": dict(fakes.CALLS), "slept": fakes.SLEPT})


def _unbatched_loaders():
    """Every DataLoader that ragweave.loaders builds dispatches each load at once, uncached (no batching). Swaps
    the class that module builds its loaders with (`_BatchLoader`), so it holds however `Loaders` builds them
    (eagerly or lazily)."""
    from aiodataloader import DataLoader

    import ragweave.loaders

    def unbatched(batch_load_fn, loop=None, name=None):
        return DataLoader(batch_load_fn, batch=False, cache=False, loop=loop)

    ragweave.loaders._BatchLoader = unbatched  # type: ignore[misc]


def build_app() -> Starlette:
    """Imported by each uvicorn worker (the supervisor of a multi-worker server never imports ragweave)."""
    from perf import fakes

    env = os.environ
    latency = fakes.Latency(
        vectors=float(env.get("PERF_VECTOR_MS", "0")) / 1000, graph=float(env.get("PERF_GRAPH_MS", "0")) / 1000,
        embed=float(env.get("PERF_EMBED_MS", "0")) / 1000,
    )
    open_ds = fakes.open_fakes(latency)
    kind = env.get("PERF_APP", "ragweave")
    if kind == "rest":
        from perf.baselines.rest import create_rest_app

        app = create_rest_app(open_ds)
    elif kind == "naive":
        from perf.baselines.naive_strawberry import create_naive_app

        app = create_naive_app(open_ds)
    else:
        from ragweave.app import create_app
        from ragweave.settings import Settings

        if kind == "noloaders":
            _unbatched_loaders()
        app = create_app(Settings.from_env(graphql_ide=False), open_ds=open_ds)
        if env.get("PERF_SKIP"):  # an experiment of (a): perf/pipeline_floor.py
            from perf import pipeline_floor

            pipeline_floor.install(env["PERF_SKIP"])
    app.router.routes.append(Route("/perf/calls", perf_calls))
    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--app", default="ragweave", choices=["ragweave", "noloaders", "rest", "naive"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--vector-ms", type=float, default=0)
    parser.add_argument("--graph-ms", type=float, default=0)
    parser.add_argument("--embed-ms", type=float, default=0)
    parser.add_argument("--debug-extensions", action="store_true")
    parser.add_argument("--loop", default="auto", choices=["auto", "asyncio", "uvloop"], help="uvicorn's event loop")
    args = parser.parse_args()
    os.environ.update({
        "PERF_APP": args.app, "PERF_VECTOR_MS": str(args.vector_ms), "PERF_GRAPH_MS": str(args.graph_ms),
        "PERF_EMBED_MS": str(args.embed_ms), "RAGWEAVE_DEBUG_EXTENSIONS": "1" if args.debug_extensions else "0",
    })
    workers.run(uvicorn.Config("perf.serve_fakes:build_app", factory=True, host="127.0.0.1", port=args.port,
                               workers=args.workers, loop=args.loop, log_level="warning", access_log=False,
                               timeout_graceful_shutdown=3))


if __name__ == "__main__":
    main()
