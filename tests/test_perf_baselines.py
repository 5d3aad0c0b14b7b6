"""The REST baseline of perf/ answers the same `data` as the GraphQL operations it stands beside ((a): `Small`,
(d): `RetrieveWithEntities`), over the same fakes: its figures compare like with like."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from perf.bench import QUERY, gql
from perf.instructions import _serve, started
from perf.serve_fakes import build_app
from ragweave.auth import KeyStore


async def _answer(path: str, body: str, key: str) -> dict:
    """The answer of the app PERF_APP names, served in-process."""
    app = build_app()
    state, lifespan = await started(app)
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
