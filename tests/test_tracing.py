"""OpenTelemetry: one span per operation and one per backend call, into the SDK's in-memory exporter; OTLP over
HTTP when OTEL_EXPORTER_OTLP_ENDPOINT is set; nothing at all when it is not."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from starlette.testclient import TestClient

import ragweave.datasources.calls
from ragweave.datasources.embeddings import LocalEmbedder
from ragweave.datasources.falkordb_process import EmbeddedFalkorDB
from ragweave.observability import operation_extensions, tracing
from ragweave.observability.tracing import TracingExtension, annotate_llm, backend_span, use_tracer_provider
from tests.test_http import LOOPBACK, app_for
from tests.test_metrics import observe

BROWSE = "query Browse { entities(first: 2) { edges { cursor } } }"
TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    use_tracer_provider(provider)
    yield exporter
    use_tracer_provider(None)


@pytest.fixture
def client(spans, tmp_path: Path, embedder: LocalEmbedder, falkordb_server: EmbeddedFalkorDB):
    with TestClient(observe(app_for(tmp_path, embedder, falkordb_server.port)), client=LOOPBACK) as test_client:
        yield test_client


def test_one_span_per_operation_named_after_it(client: TestClient, spans: InMemorySpanExporter):
    client.post("/graphql", json={"query": BROWSE, "variables": {"secret": "x"}}, headers={"traceparent": TRACEPARENT})
    client.post("/graphql", json={"query": '{ search(query: "x", topK: 500) { score } }'})
    browse, refused = [s for s in spans.get_finished_spans() if s.kind is SpanKind.SERVER]
    assert browse.name == "query Browse"
    assert dict(browse.attributes) == {
        "graphql.operation.type": "query", "graphql.operation.name": "Browse", "ragweave.tenant": "default"}
    assert f"{browse.context.trace_id:032x}" == TRACEPARENT.split("-")[1]  # joined the caller's trace
    assert browse.parent is not None and browse.parent.is_remote
    assert refused.name == "query" and refused.attributes["ragweave.error_codes"] == ("BAD_USER_INPUT",)
    assert refused.status.status_code is StatusCode.UNSET  # the client's mistake, not the server's


@pytest.mark.skipif(not hasattr(ragweave.datasources.calls, "backend_span"),
                    reason="needs the ragweave/datasources/calls.py diff")
def test_one_span_per_backend_call_under_the_operation(client: TestClient, spans: InMemorySpanExporter):
    query = '{ entities(first: 2) { edges { cursor } } embed(texts: ["a"]) { dim } }'
    calls = client.post("/graphql", json={"query": query}).json()["extensions"]["backendCalls"]
    finished = spans.get_finished_spans()
    (operation,) = [s for s in finished if s.kind is SpanKind.SERVER]
    backend = [s for s in finished if s.kind is SpanKind.CLIENT]
    assert sorted(s.name for s in backend) == sorted(name for name, n in calls.items() for _ in range(n))
    assert {"graph.list_entities", "llm.embed"} <= {s.name for s in backend}
    assert all(s.parent.span_id == operation.context.span_id for s in backend)
    graph = next(s for s in backend if s.name == "graph.list_entities")
    assert dict(graph.attributes) == {"ragweave.backend": "graph", "ragweave.method": "list_entities"}


def test_backend_span_records_failures_and_llm_attributes(spans: InMemorySpanExporter):
    with backend_span("llm.chat"):
        annotate_llm("openai", "gpt-4o-mini", 12, 5)
    with pytest.raises(TimeoutError), backend_span("graph.neighbors"):
        raise TimeoutError
    chat, failed = spans.get_finished_spans()
    assert {k: chat.attributes[k] for k in chat.attributes if k.startswith("gen_ai.")} == {
        "gen_ai.provider.name": "openai", "gen_ai.response.model": "gpt-4o-mini",
        "gen_ai.usage.input_tokens": 12, "gen_ai.usage.output_tokens": 5,
    }
    assert failed.status.status_code is StatusCode.ERROR and failed.attributes["error.type"] == "TimeoutError"
    assert failed.events[0].name == "exception"


def test_without_an_endpoint_tracing_is_a_no_op():
    assert not tracing.configure_tracing({}) and not tracing.tracing_enabled()
    assert backend_span("graph.neighbors") is backend_span("vectors.query_many")  # one shared nullcontext
    annotate_llm("openai", "m", 1, 1)
    assert not any(getattr(e, "func", None) is TracingExtension for e in operation_extensions())


class Collector(BaseHTTPRequestHandler):
    received: list[tuple[str, bytes]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        Collector.received.append((self.path, body))
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_the_otlp_endpoint_receives_the_spans(tmp_path: Path, embedder: LocalEmbedder,
                                              falkordb_server: EmbeddedFalkorDB):
    server = ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{server.server_address[1]}",
           "OTEL_SERVICE_NAME": "ragweave-test"}
    try:
        assert tracing.configure_tracing(env)
        app = observe(app_for(tmp_path, embedder, falkordb_server.port))
        with TestClient(app, client=LOOPBACK) as client:
            client.post("/graphql", json={"query": BROWSE})
    finally:
        tracing.shutdown_tracing()  # flushes the batch
        server.shutdown()
    (path, body), *_ = Collector.received
    request = ExportTraceServiceRequest.FromString(body)
    (resource,) = request.resource_spans
    service = {a.key: a.value.string_value for a in resource.resource.attributes}["service.name"]
    names = {s.name for scope in resource.scope_spans for s in scope.spans}
    assert path == "/v1/traces" and service == "ragweave-test" and "query Browse" in names
