"""Prometheus metrics through the real app: GET /metrics, operation and error counters, backend calls from the
CallLog, bounded labels, bearer protection; and the helpers DataLoaders and LLM calls report through."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from pathlib import Path

import pytest
import strawberry
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette
from starlette.routing import Route
from starlette.testclient import TestClient

import ragweave.datasources.chat
import ragweave.loaders
from ragweave.app import create_app
from ragweave.datasources.embeddings import LocalEmbedder
from ragweave.datasources.falkordb_process import EmbeddedFalkorDB
from ragweave.observability import is_observability, operation_extensions
from ragweave.observability.metrics import Metrics, MetricsExtension, metrics_endpoint, observe_batch, observe_tokens
from ragweave.persisted import PersistedQueries, PersistedQueriesMixin
from ragweave.schema.extensions import Authentication, ReleaseLoaders
from ragweave.settings import Settings
from tests.servers.openai_server import OpenAITestServer
from tests.test_http import LOOPBACK, app_for


def observe(
    app: Starlette, metrics: Metrics | None = None, *, persisted: PersistedQueries | None = None,
    log_debug: bool = False,
) -> Starlette:
    """Wire an app from `create_app` the way the proposed app.py diff does, replacing what it already wires:
    the operation extensions first in the schema (after ReleaseLoaders, which wraps them), persisted queries on
    the view, GET /metrics."""
    view = next(r.app for r in app.routes if isinstance(r, Route) and r.path == "/graphql")
    first, *kept = [e for e in view.schema.extensions if not is_observability(e)]
    assert first is ReleaseLoaders  # it wraps the operation extensions, as in `build_schema`
    view.schema.extensions = (first, *operation_extensions(metrics, log_debug=log_debug), *kept)
    if not isinstance(view, PersistedQueriesMixin):
        wired = object.__new__(type("PersistedView", (PersistedQueriesMixin, type(view)), {}))
        vars(wired).update(vars(view))
        for route in app.routes:
            if getattr(route, "app", None) is view:
                route.app = wired  # the HTTP and the WebSocket route
        view = wired
    if persisted is not None:
        view.persisted_queries = persisted
    if metrics is not None:
        app.router.routes.insert(0, Route("/metrics", metrics_endpoint))
        app.state.metrics = metrics
    return app


def sample(metrics: Metrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


def label_values(metrics: Metrics, name: str, label: str) -> set[str]:
    return {s.labels[label] for family in metrics.registry.collect() for s in family.samples if s.name == name}


@pytest.fixture
def metrics() -> Metrics:
    return Metrics()


@pytest.fixture
def client(tmp_path: Path, embedder: LocalEmbedder, falkordb_server: EmbeddedFalkorDB, metrics: Metrics):
    app = observe(app_for(tmp_path, embedder, falkordb_server.port), metrics)
    with TestClient(app, client=LOOPBACK) as test_client:
        yield test_client


def test_a_named_operation_is_counted_and_served_as_prometheus_text(client: TestClient, metrics: Metrics):
    response = client.post("/graphql", json={"query": "query Browse { entities(first: 2) { edges { cursor } } }"})
    assert "errors" not in response.json()
    page = client.get("/metrics")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/plain; version=0.0.4")
    families = {f.name: f for f in text_string_to_metric_families(page.text)}
    (requests,) = [s for s in families["ragweave_graphql_requests"].samples if s.name.endswith("_total")]
    assert requests.labels == {"operation": "Browse", "type": "query"} and requests.value == 1
    assert sample(metrics, "ragweave_graphql_request_duration_seconds_count", operation="Browse", type="query") == 1
    assert "process_cpu_seconds" in families and "python_gc_objects_collected" in families


def test_backend_calls_come_from_the_call_log(client: TestClient, metrics: Metrics):
    client.post("/graphql", json={"query": "query Browse { entities(first: 2) { edges { cursor } } }"})
    client.post("/graphql", json={"query": '{ embed(texts: ["a", "b"]) { dim } }'})
    assert sample(metrics, "ragweave_backend_calls_total", backend="graph", method="list_entities") == 1
    assert sample(metrics, "ragweave_backend_call_seconds_total", backend="graph", method="list_entities") > 0
    assert sample(metrics, "ragweave_backend_calls_total", backend="llm", method="embed") == 1
    assert sample(metrics, "ragweave_graphql_requests_total", operation="anonymous", type="query") == 1


def test_errors_are_counted_by_code(client: TestClient, metrics: Metrics):
    client.post("/graphql", json={"query": '{ search(query: "x", topK: 500) { score } }'})
    client.post("/graphql", json={"query": "{ nope }"})
    client.post("/graphql", json={"query": "{ search("})
    assert sample(metrics, "ragweave_graphql_errors_total", code="BAD_USER_INPUT") == 1
    assert sample(metrics, "ragweave_graphql_errors_total", code="GRAPHQL_VALIDATION_FAILED") == 1
    assert sample(metrics, "ragweave_graphql_errors_total", code="GRAPHQL_PARSE_FAILED") == 1
    assert sample(metrics, "ragweave_graphql_requests_total", operation="anonymous", type="unknown") == 1


def test_operation_names_are_bounded(client: TestClient, metrics: Metrics):
    client.post("/graphql", json={"query": "query Refused { nope }"})
    for i in range(300):
        assert client.post("/graphql", json={"query": f"query Op{i} {{ version }}"}).status_code == 200
    names = label_values(metrics, "ragweave_graphql_requests_total", "operation")
    assert len(names) == 201 and "other" in names and "Refused" not in names
    assert {f"Op{i}" for i in range(200)} <= names
    assert sample(metrics, "ragweave_graphql_requests_total", operation="other", type="query") == 101


def test_the_token_protects_metrics(tmp_path: Path, embedder: LocalEmbedder, falkordb_server: EmbeddedFalkorDB):
    app = observe(app_for(tmp_path, embedder, falkordb_server.port), Metrics(token="s3cret"))
    with TestClient(app, client=LOOPBACK) as client:
        assert client.get("/metrics").status_code == 401
        assert client.get("/metrics").headers["www-authenticate"] == "Bearer"
        assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert client.get("/metrics", headers={"Authorization": "Basic s3cret"}).status_code == 401
        page = client.get("/metrics", headers={"Authorization": "Bearer s3cret"})
        assert page.status_code == 200 and "ragweave_graphql_requests" in page.text


def test_two_apps_keep_separate_registries(metrics: Metrics):
    other = Metrics()
    metrics.observe_operation("A", "query", 0.01, [], {}, {}, admit=True)
    assert sample(metrics, "ragweave_graphql_requests_total", operation="A", type="query") == 1
    assert sample(other, "ragweave_graphql_requests_total", operation="A", type="query") == 0


@strawberry.type
class Query:
    @strawberry.field
    async def work(self) -> int:
        await asyncio.gather(asyncio.sleep(0))  # a spawned task sees the operation's metrics too
        observe_batch("entity", 3)
        observe_tokens("openai", "gpt-4o-mini", 12, 5)
        return 1


@strawberry.type
class Subscription:
    @strawberry.subscription
    async def ticks(self) -> AsyncGenerator[int, None]:
        for i in range(2):
            yield i


async def test_batches_tokens_and_active_subscriptions_reach_the_operations_metrics(metrics: Metrics):
    schema = strawberry.Schema(Query, subscription=Subscription, extensions=[lambda: MetricsExtension(metrics)])
    assert (await schema.execute("{ work }")).data == {"work": 1}
    assert sample(metrics, "ragweave_dataloader_batch_size_count", loader="entity") == 1
    assert sample(metrics, "ragweave_dataloader_batch_size_sum", loader="entity") == 3
    assert sample(metrics, "ragweave_llm_tokens_total", provider="openai", model="gpt-4o-mini", kind="prompt") == 12
    assert sample(metrics, "ragweave_llm_tokens_total", provider="openai", model="gpt-4o-mini", kind="completion") == 5
    observe_batch("entity", 100)  # outside an operation: nowhere to count, and no error
    assert sample(metrics, "ragweave_dataloader_batch_size_count", loader="entity") == 1

    stream = await schema.subscribe("subscription Ticks { ticks }")
    assert (await anext(stream)).data == {"ticks": 0}
    assert sample(metrics, "ragweave_subscriptions_active") == 1
    assert [r.data async for r in stream] == [{"ticks": 1}]
    assert sample(metrics, "ragweave_subscriptions_active") == 0
    assert sample(metrics, "ragweave_graphql_requests_total", operation="Ticks", type="subscription") == 1
    assert sample(metrics, "ragweave_graphql_request_duration_seconds_count", operation="Ticks",
                  type="subscription") == 0


LOADERS_WIRED = hasattr(ragweave.loaders, "observe_batch")
CHAT_WIRED = hasattr(ragweave.datasources.chat, "record_llm_usage")


@pytest.mark.skipif(not LOADERS_WIRED, reason="needs the ragweave/loaders.py diff")
def test_real_dataloader_batches_are_observed(client: TestClient, metrics: Metrics):
    query = '{ a: entity(id: "x:a") { id } b: entity(id: "x:b") { id } c: entity(id: "x:c") { id } }'
    assert client.post("/graphql", json={"query": query}).json()["data"] == {"a": None, "b": None, "c": None}
    assert sample(metrics, "ragweave_dataloader_batch_size_sum", loader="entity") == 3


@pytest.mark.skipif(not CHAT_WIRED, reason="needs the ragweave/datasources/chat.py diff")
def test_llm_tokens_are_counted_by_provider_and_model(
    tmp_path: Path, embedder: LocalEmbedder, falkordb_server: EmbeddedFalkorDB, metrics: Metrics
):
    mutation = 'mutation { chat(input: {messages: [{role: "user", content: "a b c"}]}) { usage { promptTokens } } }'
    with OpenAITestServer() as server:
        app = observe(app_for(tmp_path, embedder, falkordb_server.port, llm_url=server.base_url), metrics)
        with TestClient(app, client=LOOPBACK) as client:
            body = client.post("/graphql", json={"query": mutation}).json()
    prompt = body["data"]["chat"]["usage"]["promptTokens"]
    (model,) = label_values(metrics, "ragweave_llm_tokens_total", "model")
    assert sample(metrics, "ragweave_llm_tokens_total", provider="test-server", model=model, kind="prompt") == prompt
    assert sample(metrics, "ragweave_llm_tokens_total", provider="test-server", model=model, kind="completion") > 0


@pytest.mark.skipif("on_operation" in vars(Authentication), reason="needs the ragweave/schema/extensions.py diff")
def test_refused_credentials_are_counted(tmp_path: Path, embedder: LocalEmbedder, falkordb_server: EmbeddedFalkorDB,
                                         metrics: Metrics):
    app = observe(app_for(tmp_path, embedder, falkordb_server.port, dev_mode=False), metrics)
    with TestClient(app, client=LOOPBACK) as client:
        body = client.post("/graphql", json={"query": "query Who { whoami { tenant } }", "operationName": "Who"})
    assert body.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert sample(metrics, "ragweave_graphql_errors_total", code="UNAUTHENTICATED") == 1
    # refused before parsing: the name a stranger sent is not admitted as a label
    assert sample(metrics, "ragweave_graphql_requests_total", operation="other", type="unknown") == 1


def test_create_app_serves_metrics_once_wired(tmp_path: Path):
    app = create_app(Settings(data_dir=tmp_path))
    if not any(getattr(r, "path", None) == "/metrics" for r in app.routes):
        pytest.skip("needs the ragweave/app.py diff")
    assert isinstance(app.state.metrics, Metrics)
