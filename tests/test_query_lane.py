"""The query lane (`ragweave.schema.query_lane`) answers what Strawberry's pipeline answers and leaves the same traces:
the response (status, headers, body with `extensions.cost` and the backend calls), the metrics and the operation
log line. Each request goes once through the lane and once, on a twin app in the same state, through the pipeline.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiodataloader import DataLoader
from starlette.routing import Route
from starlette.testclient import TestClient

from ragweave.datasources.embeddings import LocalEmbedder
from ragweave.datasources.falkordb_process import EmbeddedFalkorDB
from ragweave.loaders import Loaders
from ragweave.observability.metrics import Metrics
from ragweave.schema import build_schema, direct_root, query_lane
from ragweave.schema.query_lane import QueryLane
from ragweave.settings import Settings
from tests.test_http import LOOPBACK, app_for
from tests.test_logging import Lines, lines  # noqa: F401  (the fixture)
from tests.test_metrics import observe
from tests.test_plain_post import INGEST, SEARCH, _comparable

DEEP = """query Deep($q: String!) { retrieve(query: $q, topK: 3, maxHops: 1) { hits { score chunk { id text
  document { id title } entities { id name neighbors(hops: 1) { id } } } } } }"""
CASES = [
    ("a query with variables", {"query": SEARCH, "variables": {"q": "contract", "k": 2}, "operationName": "S"}),
    ("a deeper query", {"query": DEEP, "variables": {"q": "Who leads the Ferry Team?"}}),
    ("a field error", {"query": '{ search(query: "x", topK: 500) { score } }'}),
    ("an internal error", {"query": SEARCH, "variables": {"q": "explode", "k": 2}}),
    ("aliases and fragments", {"query": 'query { a: search(query: "Ada", topK: 1) { ...F } b: version } '
                                        "fragment F on SearchHit { score chunk { id __typename } }"}),
]


def _metrics(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """ragweave's samples, but for times (durations' sums and buckets, seconds in backend calls)."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for family in metrics.registry.collect()
            for s in family.samples if s.name.startswith("ragweave_")
            and not s.name.endswith(("_sum", "_bucket", "_created")) and "seconds_total" not in s.name}


def _log_lines(logged: Lines) -> list[dict[str, object]]:
    kept = []
    for line in logged():
        line = {k: v for k, v in line.items() if k not in ("duration_ms", "ts", "request_id")}
        if "internal_error_ids" in line:
            line["internal_error_ids"] = len(line["internal_error_ids"])
        line["message"] = re.sub(r"[\d.]+ms", "-ms", str(line.get("message")))
        kept.append(line)
    return kept


@pytest.fixture
def twins(tmp_path: Path, embedder: LocalEmbedder, falkordb_server: EmbeddedFalkorDB, monkeypatch
          ) -> Iterator[object]:
    """Build two apps of the same settings, each with its own metrics, both with the demo text ingested; an
    embedding of "explode" fails with an unexpected exception."""
    real_embed = embedder.embed_many

    async def embed_many(texts: list[str]) -> list[list[float]]:
        if "explode" in texts:
            raise RuntimeError("the embedder broke")
        return await real_embed(texts)

    monkeypatch.setattr(embedder, "embed_many", embed_many)
    opened: list[TestClient] = []

    def build(name: str, *, ingest: bool = True, **settings: object) -> tuple[TestClient, Metrics]:
        metrics = Metrics()
        directory = tmp_path / f"{tmp_path.name}_{name}"  # its name names the graph, shared by all tests
        app = observe(app_for(directory, embedder, falkordb_server.port, **{"max_cost": 5000, **settings}), metrics)
        client = TestClient(app, client=LOOPBACK).__enter__()
        opened.append(client)
        if ingest:
            assert client.post("/graphql", json={"query": INGEST}).json()["data"]["ingest"]["chunks"] == 2
        return client, metrics

    yield build
    for client in opened:
        client.__exit__(None, None, None)


def _view(client: TestClient):
    return next(r.app for r in client.app.routes if isinstance(r, Route) and r.path == "/graphql")


def _run(client: TestClient, metrics: Metrics, logged: Lines, body: dict, lane_expected: bool, monkeypatch
         ) -> tuple[object, object, object]:
    taken: list[bool] = []
    execute = QueryLane.execute

    async def observed(self, *args, **kwargs):
        answer = await execute(self, *args, **kwargs)
        taken.append(answer is not None)
        return answer

    closed: list[bool] = []
    close = Loaders.close

    def observed_close(self) -> None:
        close(self)
        closed.append(not any(isinstance(value, DataLoader) for value in vars(self).values()))

    before, lines_before = _metrics(metrics), len(logged())
    with monkeypatch.context() as patch:
        patch.setattr(QueryLane, "execute", observed)
        patch.setattr(Loaders, "close", observed_close)
        if not lane_expected:
            patch.setattr(_view(client).schema, "query_lane", None)
        response = _comparable(client.post("/graphql", json=body))
    assert taken == ([True] if lane_expected else [])
    assert closed == [True]  # the request's loaders were emptied (ReleaseLoaders)
    after = _metrics(metrics)
    delta = {key: value - before.get(key, 0.0) for key, value in after.items() if value != before.get(key, 0.0)}
    return response, delta, _log_lines(logged)[lines_before:]


@pytest.mark.parametrize(("case", "body"), CASES, ids=[c[0] for c in CASES])
def test_the_lane_answers_and_leaves_the_traces_the_pipeline_does(twins, lines: Lines, monkeypatch,  # noqa: F811
                                                                  case, body):
    lane_client, lane_metrics = twins("lane")
    pipeline_client, pipeline_metrics = twins("pipeline")
    through_lane = _run(lane_client, lane_metrics, lines, body, True, monkeypatch)
    through_pipeline = _run(pipeline_client, pipeline_metrics, lines, body, False, monkeypatch)
    assert through_lane == through_pipeline
    response, delta, logged = through_lane
    assert response[0] == 200 and "cost" in response[2]["extensions"] and len(logged) == 1
    assert any(name.startswith("ragweave_graphql_requests") for name, _ in delta), delta


def test_a_rate_limited_query_is_refused_as_the_pipeline_refuses_it(twins, lines: Lines, monkeypatch):  # noqa: F811
    body = {"query": SEARCH, "variables": {"q": "contract", "k": 2}}
    answers = []
    for name, lane in (("lane", True), ("pipeline", False)):
        client, metrics = twins(name, rate_per_s=0.001, rate_burst=1)
        _run(client, metrics, lines, body, lane, monkeypatch)  # ingesting spent the burst already: refused too
        answers.append(_run(client, metrics, lines, body, lane, monkeypatch))
    for (_, _, answer), _, _ in answers:  # the wait left, which differs by the time between the two
        assert answer["errors"][0]["extensions"].pop("retryAfter") > 0
    assert answers[0] == answers[1]
    (_, _, answer), delta, logged = answers[0]
    assert answer["errors"][0]["extensions"]["code"] == "RATE_LIMITED" and answer["data"] is None
    assert logged[0]["error_codes"] == ["RATE_LIMITED"] and delta


def test_a_query_past_its_deadline_answers_as_through_the_pipeline(twins, lines: Lines, monkeypatch):  # noqa: F811
    body = {"query": SEARCH, "variables": {"q": "contract", "k": 2}}
    answers = [_run(*twins(name, request_deadline_s=1e-9), lines, body, lane, monkeypatch)
               for name, lane in (("lane", True), ("pipeline", False))]
    assert answers[0] == answers[1] and "the request's deadline ran out" in json.dumps(answers[0][0])


REFUSED = [
    ("a mutation", {"query": 'mutation { deleteDocument(id: "no-such-doc") }'}),
    ("a syntax error", {"query": "{ search("}),
    ("a validation error", {"query": "{ nope }"}),
    ("an unknown operation name", {"query": "{ version }", "operationName": "Nope"}),
    ("an operation name that is not a string", {"query": "{ version }", "operationName": 5}),
    ("a missing variable", {"query": SEARCH, "variables": {"q": "contract"}}),
    ("a variable of the wrong type", {"query": SEARCH, "variables": {"q": "contract", "k": "many"}}),
    ("over the cost budget", {"query": '{ retrieve(query: "x", topK: 100, maxHops: 3) { hits { score } } }'}),
    ("a persisted query", {"query": "{ version }", "extensions": {"persistedQuery": {"version": 1,
                                                                                    "sha256Hash": "0" * 64}}}),
]


@pytest.mark.parametrize(("case", "body"), REFUSED, ids=[c[0] for c in REFUSED])
def test_what_the_lane_leaves_to_the_pipeline(twins, monkeypatch, case, body):
    client, _ = twins("one", max_cost=50)
    executed: list[object] = []
    execute = QueryLane.execute

    async def observed(self, *args, **kwargs):
        answer = await execute(self, *args, **kwargs)
        executed.append(answer)
        return answer

    monkeypatch.setattr(QueryLane, "execute", observed)
    response = client.post("/graphql", json=body)
    assert response.status_code in (200, 400) and executed in ([], [None])


def test_refused_credentials_are_left_to_the_pipeline(twins, monkeypatch):
    client, _ = twins("keys", ingest=False, dev_mode=False)
    for owner, way in ((query_lane.Executor, "build"), (query_lane.direct_root, "start")):
        monkeypatch.setattr(owner, way, lambda *args, **kwargs: pytest.fail("the lane went on"))
    answer = client.post("/graphql", json={"query": "{ version }"}, headers={"authorization": "Bearer rw_nope"})
    assert answer.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED", answer.json()


def test_the_lane_is_built_only_for_the_extensions_it_knows(tmp_path: Path):
    settings = Settings(data_dir=tmp_path)
    schema = build_schema(settings)
    lane = QueryLane.for_schema(schema)
    assert lane is not None and lane.current() is lane and not lane.report
    assert QueryLane.for_schema(build_schema(Settings(data_dir=tmp_path, debug_extensions=True))).report
    schema.extensions = [*schema.extensions, lambda: type("Other", (schema.extensions[0],), {})()]
    assert lane.current() is None and QueryLane.for_schema(schema) is None


def test_the_lane_builds_the_executor_of_a_prepared_operation_itself(twins, monkeypatch):
    client, _ = twins("prepared", ingest=False)
    built: list[str] = []
    build = query_lane.Executor.build.__func__

    def observed_build(cls, *args, **kwargs):
        built.append("build")
        return build(cls, *args, **kwargs)

    monkeypatch.setattr(query_lane.Executor, "build", classmethod(observed_build))
    defaulted = 'query D($k: Int = 2) { search(query: "contract", topK: $k) { score } }'
    for body, expected in (({"query": SEARCH, "variables": {"q": "contract", "k": 2}}, []),
                           ({"query": defaulted}, ["build"])):  # a default value: left to graphql-core's build
        built.clear()
        answer = client.post("/graphql", json=body).json()
        assert "errors" not in answer and answer["data"]["search"] == [] and built == expected


def test_a_query_of_one_plain_field_runs_without_an_executor(twins, monkeypatch):
    client, _ = twins("direct")
    runs: list[str] = []
    execute_operation = direct_root.DirectRun.execute_operation

    async def observed(self):
        runs.append(self.root.name)
        return await execute_operation(self)

    monkeypatch.setattr(direct_root.DirectRun, "execute_operation", observed)
    for body in ({"query": SEARCH, "variables": {"q": "contract", "k": 2}},
                 {"query": DEEP, "variables": {"q": "Who leads the Ferry Team?"}}):  # entities: resolvers below
        answer = client.post("/graphql", json=body).json()
        assert "errors" not in answer and answer["data"]
    assert runs == ["search"]


def test_the_log_line_metrics_and_loaders_release_come_after_the_response_is_written(twins, lines: Lines,  # noqa: F811
                                                                                     monkeypatch):
    """The lane writes the operation's log line, counts its metrics and empties its loaders once the response is
    written (a callback of the next loop iteration), not before: none of it is on the request's latency path."""
    client, metrics = twins("lane")
    body = json.dumps({"query": SEARCH, "variables": {"q": "contract", "k": 2}, "operationName": "S"}).encode()
    events: list[str] = []
    close = Loaders.close
    monkeypatch.setattr(Loaders, "close", lambda self: (events.append("loaders emptied"), close(self))[1])

    async def request() -> None:
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
                 "scheme": "http", "path": "/graphql", "raw_path": b"/graphql", "query_string": b"", "root_path": "",
                 "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
                 "client": LOOPBACK, "server": ("127.0.0.1", 80), "state": client.app_state.copy()}
        messages = [{"type": "http.request", "body": body, "more_body": False}]

        async def receive() -> dict:
            return messages.pop() if messages else {"type": "http.disconnect"}

        async def send(message: dict) -> None:
            if message["type"] == "http.response.body":
                events.append(f"response written, {len(lines()) - lines_before} lines logged")

        await client.app(scope, receive, send)
        events.append(f"app returned, {len(lines()) - lines_before} lines logged")
        await asyncio.sleep(0)

    before, lines_before = _metrics(metrics), len(lines())
    client.portal.call(request)
    assert events == ["response written, 0 lines logged", "app returned, 0 lines logged", "loaders emptied"], events
    assert len(lines()) - lines_before == 1
    counted = {k: v - before.get(k, 0.0) for k, v in _metrics(metrics).items() if v != before.get(k, 0.0)}
    assert counted[("ragweave_graphql_requests_total", (("operation", "S"), ("type", "query")))] == 1
