"""`ragweave serve | ingest | index-vectors | keys | export-schema`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from ragweave.settings import LOOPS, Settings, SettingsError

if TYPE_CHECKING:
    from ragweave.datasources.vectors import VectorStore

# `ragweave serve` flags, as the environment variables they stand for: several workers read their settings from
# the environment they inherit
FLAG_VARIABLES = {"host": "RAGWEAVE_HOST", "port": "RAGWEAVE_PORT", "loop": "RAGWEAVE_LOOP",
                  "data_dir": "RAGWEAVE_DATA_DIR", "workers": "RAGWEAVE_WORKERS"}


def _flag_env(args: argparse.Namespace) -> dict[str, str]:
    env = {variable: str(value) for flag, variable in FLAG_VARIABLES.items()
           if (value := getattr(args, flag, None)) is not None}
    if getattr(args, "demo", False):
        env["RAGWEAVE_LOAD_DEMO"] = "1"
    return env


def _settings(args: argparse.Namespace) -> Settings:
    return Settings.from_env({**os.environ, **_flag_env(args)})


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from ragweave import workers

    settings = _settings(args)
    print(f"ragweave serving http://{settings.host}:{settings.port}/graphql (data dir {settings.data_dir}, "
          f"{settings.workers} worker{'s' if settings.workers > 1 else ''})", flush=True)
    if settings.workers > 1:
        os.environ.update(_flag_env(args))
        config = uvicorn.Config("ragweave.cli:worker_app", factory=True, workers=settings.workers,
                                **uvicorn_options(settings))
    else:
        config = uvicorn.Config(_app(settings), **uvicorn_options(settings))
    workers.run(config)
    return 0


def worker_app():
    """The app of one of several workers (`RAGWEAVE_WORKERS`), from the environment `serve` left them."""
    return _app(Settings.from_env())


def _app(settings: Settings):
    from ragweave.app import create_app
    from ragweave.demo.loader import load_demo
    from ragweave.observability.logging import configure_logging

    if settings.log_json:
        configure_logging(json=True)

    async def on_ready(ds) -> None:
        if settings.load_demo:
            report = await load_demo(ds, settings)
            logging.getLogger("ragweave").info(
                "demo corpus: %d documents (%d unchanged), %d chunks, %d entities",
                report.documents, report.skipped, report.chunks, report.entities,
            )

    return create_app(settings, on_ready=on_ready)


def uvicorn_options(settings: Settings) -> dict[str, object]:
    options: dict[str, object] = {"host": settings.host, "port": settings.port, "loop": settings.loop,
                                  "timeout_keep_alive": settings.keep_alive_s, "log_level": "info"}
    if settings.log_json:  # uvicorn keeps its hands off logging: its records reach the JSON handler on the root logger
        options["log_config"] = None
    return options


async def _ingest(settings: Settings, paths: list[Path], collection: str | None, extract: bool) -> int:
    from ragweave.datasources.lifecycle import open_datasources
    from ragweave.demo.loader import read_folder
    from ragweave.resolvers.extraction import extractor_for
    from ragweave.resolvers.ingest import Ingestor
    from ragweave.resolvers.progress import ProgressLine

    documents = [doc for path in paths for doc in read_folder(path)]
    async with open_datasources(settings) as ds:
        line = ProgressLine(total_documents=len(documents), stream=sys.stderr)
        ingestor = Ingestor(ds, settings.tenant, collection or settings.default_collection, extractor_for(ds),
                            settings.chunk_size, settings.chunk_overlap, extract, line.chunk_done)
        report = await ingestor.run(documents, on_document=line.document_done)
        line.finish()
        print(f"documents {report.documents} (unchanged {report.skipped}), chunks {report.chunks}, "
              f"entities {report.entities}, relations {report.relations}, failures {len(report.failures)}",
              flush=True)
        print(await _build_index(ds.vectors, ingestor.collection, settings.vector_index_min))
    for failure in report.failures:
        print(f"FAILED {failure.document_id} chunk {failure.chunk_index} [{failure.stage}]: {failure.message}")
    return 1 if report.failures else 0


async def _build_index(vectors: VectorStore, collection: str, minimum: int) -> str:
    """`VectorStore.build_index`, reported in one line."""
    started = time.perf_counter()
    built = await vectors.build_index(collection, minimum)
    seconds = time.perf_counter() - started
    head = f"vector index of {collection}:"
    if built is None:
        return f"{head} nothing to build here (a Qdrant server indexes by itself, or the collection is empty)"
    if built.indexed_after > built.indexed_before:
        return (f"{head} {built.indexed_after} of {built.points} vectors indexed "
                f"({built.indexed_after - built.indexed_before} added, {seconds:.1f} s)")
    return (f"{head} {built.points - built.indexed_after} of {built.points} vectors outside it, nothing built "
            f"(the minimum is {minimum}, RAGWEAVE_VECTOR_INDEX_MIN)")


async def _index_vectors(settings: Settings, collection: str | None) -> int:
    from ragweave.datasources.vectors_edge import EdgeVectorStore
    from ragweave.errors import AppError, BackendUnavailable

    if settings.qdrant_url:
        print("QDRANT_URL is set: the Qdrant server indexes its collections by itself")
        return 0
    store = EdgeVectorStore(settings.data_dir / "vectors", settings.embedding_dim)
    stored = store.collections()
    if collection is not None and collection not in stored:
        print(f"ragweave index-vectors: no collection {collection!r} under {store.root}", file=sys.stderr)
        return 1
    try:
        for name in [collection] if collection else stored:
            print(await _build_index(store, name, settings.vector_index_min), flush=True)
    except AppError as exc:
        hint = f" (is a server running on {settings.data_dir}? stop it first)" if isinstance(
            exc, BackendUnavailable) else ""
        print(f"ragweave index-vectors: {exc}{hint}", file=sys.stderr)
        return 1
    finally:
        await store.close()
    return 0


def keys(args: argparse.Namespace) -> int:
    from ragweave.auth import KeyStore

    store = KeyStore(_settings(args).keys_path)
    if args.keys_command == "create":
        try:
            entry, secret = store.create(args.tenant, args.role)
        except ValueError as exc:
            print(f"ragweave keys: {exc}", file=sys.stderr)
            return 2
        print(f"created key {entry.id} for tenant {entry.tenant} with role {entry.role}; the secret follows, once:")
        print(secret)
        return 0
    if args.keys_command == "revoke":
        if not store.revoke(args.id):
            print(f"ragweave keys: no key {args.id}", file=sys.stderr)
            return 1
        print(f"revoked {args.id}")
        return 0
    for entry in store.list():
        print(f"{entry.id}\t{entry.tenant}\t{entry.role}\t{'revoked' if entry.revoked else 'active'}")
    return 0


def export_schema(args: argparse.Namespace) -> int:
    from ragweave.schema import build_schema

    sys.stdout.write(str(build_schema(Settings())) + "\n")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ragweave", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve_cmd = commands.add_parser("serve", help="run the GraphQL server")
    serve_cmd.add_argument("--host")
    serve_cmd.add_argument("--port", type=int)
    serve_cmd.add_argument("--data-dir")
    serve_cmd.add_argument("--loop", choices=LOOPS, help="event loop (default RAGWEAVE_LOOP, else auto: uvloop "
                           "when installed)")
    serve_cmd.add_argument("--workers", type=int, help="server processes (default RAGWEAVE_WORKERS, else 1); more "
                           "than one needs QDRANT_URL and NEO4J_URI or RAGWEAVE_FALKORDB_URL")
    serve_cmd.add_argument("--demo", action="store_true", help="load the demo corpus at start-up")
    ingest_cmd = commands.add_parser("ingest", help="ingest folders of .md/.txt documents")
    ingest_cmd.add_argument("paths", nargs="+", type=Path)
    ingest_cmd.add_argument("--data-dir")
    ingest_cmd.add_argument("--collection")
    ingest_cmd.add_argument("--no-graph", action="store_true")
    index_cmd = commands.add_parser("index-vectors", help="build the embedded collections' vector indexes (with "
                                    "the server stopped)")
    index_cmd.add_argument("--data-dir")
    index_cmd.add_argument("--collection")
    commands.add_parser("export-schema", help="print the SDL")
    keys_cmd = commands.add_parser("keys", help="manage API keys (the server picks up changes)")
    keys_cmd.add_argument("--data-dir")
    key_commands = keys_cmd.add_subparsers(dest="keys_command", required=True)
    create = key_commands.add_parser("create")
    create.add_argument("--tenant", required=True)
    create.add_argument("--role", required=True, choices=["reader", "writer", "admin"])
    key_commands.add_parser("list")
    key_commands.add_parser("revoke").add_argument("id")
    return parser


def main(argv: list[str] | None = None) -> int:
    # Before numpy loads: one BLAS thread per process encodes 3-5x faster on a shared 2-core machine than two.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        if args.command == "serve":
            return serve(args)
        if args.command == "ingest":
            return asyncio.run(_ingest(_settings(args), args.paths, args.collection, not args.no_graph))
        if args.command == "index-vectors":
            return asyncio.run(_index_vectors(_settings(args), args.collection))
        if args.command == "keys":
            return keys(args)
        return export_schema(args)
    except SettingsError as exc:
        print(f"ragweave: configuration error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
