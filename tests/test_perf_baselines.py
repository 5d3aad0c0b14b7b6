"""The REST baseline of perf/ answers the same `data` as the GraphQL operations it stands beside ((a): `Small`,
(d): `RetrieveWithEntities`), over the same fakes: its figures compare like with like."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from perf.bench import QUERY, gql
from perf.instructions import _serve
from perf.serve_fakes import build_app
from ragweave.auth import KeyStore


async def _answer(path: str, body: str, key: str) -> dict:
    """The answer of the app PERF_APP names, served in-process."""
    app, state, started = build_app(), {}, asyncio.Event()
    startup: asyncio.Queue = asyncio.Queue()
    startup.put_nowait({"type": "lifespan.startup"})

    async def lifespan_send(message: dict) -> None:
        if message["type"] == "lifespan.startup.complete":
            started.set()

    lifespan = asyncio.create_task(app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": state},
                                       startup.get, lifespan_send))
    await started.wait()
    try:
        headers = [(b"content-type", b"application/json"), (b"authorization", f"Bearer {key}".encode())]
        return json.loads(await _serve(app, state, path, body.encode(), headers))
    finally:
        lifespan.cancel()


@pytest.mark.parametrize(("op", "path", "top_k"), [("Small", "/search", 10), ("RetrieveWithEntities", "/retrieve", 5)])
async def test_the_rest_baseline_answers_the_operations_data(op, path, top_k, monkeypatch, tmp_path: Path):
    _, key = KeyStore(tmp_path / "keys.json").create("default", "reader")
    monkeypatch.setenv("RAGWEAVE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("PERF_APP", "ragweave")
    graphql = await _answer("/graphql", gql(op, q=QUERY, k=top_k), key)
    monkeypatch.setenv("PERF_APP", "rest")
    rest = await _answer(path, json.dumps({"query": QUERY, "topK": top_k}), key)
    assert "errors" not in graphql and len(next(iter(graphql["data"].values())) or []) > 0
    assert rest["data"] == graphql["data"]
    if op == "RetrieveWithEntities":
        hits = graphql["data"]["retrieve"]["hits"]
        assert len(hits) == top_k and any(h["chunk"]["entities"] for h in hits)
