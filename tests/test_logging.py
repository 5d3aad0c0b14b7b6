"""One structured (JSON) log line per GraphQL operation, without query text, variables or prompts."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from ragweave.datasources.embeddings import LocalEmbedder
from ragweave.datasources.falkordb_process import EmbeddedFalkorDB
from ragweave.observability.logging import JsonFormatter, configure_logging
from tests.test_http import LOOPBACK, app_for
from tests.test_metrics import observe

EMBED = "query Embed($texts: [String!]!) { embed(texts: $texts) { dim } }"
SECRET = "my secret prompt about Project Nightingale"


class Lines:
    def __init__(self, stream: io.StringIO) -> None:
        self.stream = stream

    def __call__(self) -> list[dict[str, object]]:
        return [json.loads(line) for line in self.stream.getvalue().splitlines()]


@pytest.fixture
def lines() -> Iterator[Lines]:
    logger = logging.getLogger("ragweave.operation")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield Lines(stream)
    logger.removeHandler(handler)
    logger.setLevel(level)


@pytest.fixture
def app(tmp_path: Path, embedder: LocalEmbedder, falkordb_server: EmbeddedFalkorDB):
    return lambda **kw: TestClient(observe(app_for(tmp_path, embedder, falkordb_server.port), **kw), client=LOOPBACK)


def test_one_json_line_per_operation_with_its_fields_and_no_query_text(app, lines: Lines):
    with app() as client:
        ok = client.post("/graphql", json={"query": EMBED, "variables": {"texts": [SECRET]}},
                         headers={"X-Request-ID": "req-42"})
        assert ok.json()["data"] == {"embed": {"dim": 384}}
        client.post("/graphql", json={"query": "{ nope }"})
        client.post("/graphql", json={"query": '{ search(query: "x'})
    first, invalid, unparsable = lines()
    assert first["logger"] == "ragweave.operation" and first["level"] == "info"
    assert {k: first[k] for k in ("request_id", "operation_name", "operation_type", "backend_calls", "error_codes",
                                  "tenant")} == {
        "request_id": "req-42", "operation_name": "Embed", "operation_type": "query", "backend_calls": 1,
        "error_codes": [], "tenant": "default",
    }
    assert isinstance(first["duration_ms"], float) and first["duration_ms"] > 0
    assert (invalid["operation_name"], invalid["operation_type"]) == ("anonymous", "query")
    assert invalid["error_codes"] == ["GRAPHQL_VALIDATION_FAILED"] and len(invalid["request_id"]) == 32
    assert unparsable["operation_type"] == "unknown" and unparsable["error_codes"] == ["GRAPHQL_PARSE_FAILED"]
    assert not any("query" in line or "variables" in line for line in lines())
    text = "\n".join(json.dumps(line) for line in lines())
    for leaked in ("Nightingale", "embed(texts", "nope", "search("):
        assert leaked not in text


def test_refused_requests_leave_no_traceback_or_query_text_in_the_log(app, lines: Lines, caplog):
    """Found by perf/soak.py: Strawberry logged every refused request at ERROR with its traceback and query text."""
    refused = [f'{{ search(query: "{SECRET}", topK: 500) {{ score }} }}', f'{{ nope(q: "{SECRET}") }}']
    with app() as client, caplog.at_level(logging.INFO):
        for query in refused:
            client.post("/graphql", json={"query": query})
    assert [line["error_codes"] for line in lines()] == [["BAD_USER_INPUT"], ["GRAPHQL_VALIDATION_FAILED"]]
    assert not [r for r in caplog.records if r.name.startswith("strawberry") or r.exc_info]
    assert "Nightingale" not in caplog.text


def test_debug_mode_adds_query_and_variables(app, lines: Lines):
    with app(log_debug=True) as client:
        client.post("/graphql", json={"query": EMBED, "variables": {"texts": [SECRET]}})
    (line,) = lines()
    assert line["query"] == EMBED and line["variables"] == {"texts": [SECRET]}


def test_a_forged_request_id_is_replaced(app, lines: Lines):
    with app() as client:
        client.post("/graphql", json={"query": "{ version }"}, headers={"X-Request-ID": 'x" injected\n'})
    (line,) = lines()
    assert line["request_id"] != 'x" injected\n' and len(line["request_id"]) == 32


def test_configure_logging_writes_json_lines_on_stderr(capsys: pytest.CaptureFixture[str]):
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure_logging(json=True)
        logging.getLogger("ragweave.test").warning("disk %s", "full", extra={"backend": "graph"})
        try:
            raise ValueError("boom")
        except ValueError:
            logging.getLogger("ragweave.test").exception("failed")
        configure_logging(json=False)
        logging.getLogger("ragweave.test").info("plain")
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])
    first, second, plain = capsys.readouterr().err.splitlines()[:3]
    record = json.loads(first)
    assert {k: record[k] for k in ("level", "logger", "message", "backend")} == {
        "level": "warning", "logger": "ragweave.test", "message": "disk full", "backend": "graph"}
    assert record["ts"].endswith("+00:00")
    assert "ValueError: boom" in json.loads(second)["exc"]
    assert plain.endswith("INFO ragweave.test plain")
