"""Prometheus metrics in a registry of the app's own (not the global one, so tests can build several apps).

    ragweave_graphql_requests_total{operation,type}
    ragweave_graphql_request_duration_seconds{operation,type}   histogram; subscriptions are not timed
    ragweave_graphql_errors_total{code}                         one per error, by `extensions.code`
    ragweave_backend_calls_total{backend,method}                from the operation's CallLog
    ragweave_backend_call_seconds_total{backend,method}         summed latency: rate(seconds) / rate(calls) = mean
    ragweave_dataloader_batch_size{loader}                      histogram
    ragweave_llm_tokens_total{provider,model,kind}              kind = prompt | completion
    ragweave_subscriptions_active
    ragweave_persisted_queries_total{outcome}                   hit | miss | register | trusted | refused
    ragweave_admission_in_flight, ragweave_admission_queued     GraphQL HTTP requests running / waiting for a slot
    ragweave_admission_shed_total{reason}                       503 OVERLOADED: queue_full | wait
    and the process_* / python_gc_* / python_info collectors.

Label values are bounded: unnamed operations share "anonymous"; an operation name is admitted only once its
operation parsed and validated, and past `max_operations` names the rest share "other".
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Iterator, Mapping, Sequence
from contextvars import ContextVar
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.exposition import choose_encoder
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from strawberry.extensions import SchemaExtension
from strawberry.types.execution import ExecutionContext

from ragweave.observability import (
    ANONYMOUS,
    CallTally,
    error_codes,
    operation_name,
    operation_type,
    split_call,
    validated,
)
from ragweave.observability.series import CounterSeries, HistogramSeries

OTHER = "other"
MAX_LABEL_LENGTH = 100
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
BATCH_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)


class BoundedLabel:
    """At most `limit` distinct values; later ones (and ones not admitted) share OTHER."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.values: set[str] = set()

    def __call__(self, value: str, *, admit: bool = True) -> str:
        value = value[:MAX_LABEL_LENGTH]
        if value in self.values:
            return value
        if admit and len(self.values) < self.limit:
            self.values.add(value)
            return value
        return OTHER


class Metrics:
    def __init__(self, *, token: str | None = None, max_operations: int = 200) -> None:
        self.token = token or None
        self.registry = r = CollectorRegistry()
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)
        GCCollector(registry=r)
        self.requests = CounterSeries("ragweave_graphql_requests", "GraphQL operations by name and type.",
                                      ["operation", "type"], r)
        self.duration = HistogramSeries("ragweave_graphql_request_duration_seconds", "GraphQL operation latency.",
                                        ["operation", "type"], DURATION_BUCKETS, r)
        self.errors = Counter("ragweave_graphql_errors", "GraphQL errors by extensions.code.", ["code"], registry=r)
        self.backend_calls = CounterSeries("ragweave_backend_calls", "Backend calls by backend and method.",
                                           ["backend", "method"], r)
        self.backend_seconds = CounterSeries("ragweave_backend_call_seconds", "Time spent in backend calls.",
                                             ["backend", "method"], r)
        self.batch_size = HistogramSeries("ragweave_dataloader_batch_size", "Keys per DataLoader batch.",
                                          ["loader"], BATCH_BUCKETS, r)
        self.tokens = Counter("ragweave_llm_tokens", "LLM tokens by provider, model and kind (prompt, completion).",
                              ["provider", "model", "kind"], registry=r)
        self.subscriptions = Gauge("ragweave_subscriptions_active", "Subscriptions running now.", registry=r)
        self.persisted = Counter("ragweave_persisted_queries", "Persisted-query lookups by outcome.",
                                 ["outcome"], registry=r)
        self.admission_in_flight = Gauge("ragweave_admission_in_flight",
                                         "GraphQL HTTP requests holding an admission slot.", registry=r)
        self.admission_queued = Gauge("ragweave_admission_queued", "GraphQL HTTP requests waiting for a slot.",
                                      registry=r)
        self.admission_shed = Counter("ragweave_admission_shed", "Requests refused with 503 OVERLOADED, by reason.",
                                      ["reason"], registry=r)
        self._operations = BoundedLabel(max_operations)
        self._codes = BoundedLabel(100)
        self._small = BoundedLabel(100)  # loaders, providers, models: set by configuration, bounded anyway
        self._children: dict[tuple[Any, tuple[str, ...]], Any] = {}

    def observe_operation(
        self, name: str | None, type_: str, seconds: float, codes: Sequence[str],
        calls: Mapping[str, int], millis: Mapping[str, float], *, admit: bool,
    ) -> None:
        labels = (self._operations(name, admit=admit) if name else ANONYMOUS, type_)
        self.requests.inc(labels)
        if type_ != "subscription":
            self.duration.observe(labels, seconds)
        for code in codes:
            self._child(self.errors, self._codes(code)).inc()
        for call, count in calls.items():
            backend_method = split_call(call)
            self.backend_calls.inc(backend_method, count)
            self.backend_seconds.inc(backend_method, millis.get(call, 0.0) / 1000)

    def _child(self, metric: Any, *labels: str) -> Any:
        """`metric.labels(*labels)`, remembered: prometheus_client takes a lock and checks the names every time.
        The label values are bounded (BoundedLabel and the fixed backend call names), and so is this cache."""
        key = (metric, labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def observe_batch(self, loader: str, size: int) -> None:
        self.batch_size.observe((self._small(loader),), size)

    def observe_tokens(self, provider: str, model: str, prompt: int, completion: int) -> None:
        provider, model = self._small(provider), self._small(model)
        self.tokens.labels(provider, model, "prompt").inc(max(prompt, 0))
        self.tokens.labels(provider, model, "completion").inc(max(completion, 0))

    def observe_persisted(self, outcome: str, code: str | None = None) -> None:
        """`PersistedQueries(on_outcome=...)`: refusals never reach the schema, so their codes are counted here."""
        self.persisted.labels(outcome).inc()
        if code is not None:
            self.errors.labels(self._codes(code)).inc()

    def observe_shed(self, reason: str) -> None:
        """AdmissionLimit refused a request (`reason`: queue_full | wait); it never reached the schema."""
        self.admission_shed.labels(reason).inc()
        self.errors.labels("OVERLOADED").inc()


current_metrics: ContextVar[Metrics | None] = ContextVar("current_metrics", default=None)


def observe_batch(loader_name: str, size: int) -> None:
    """One DataLoader batch of `size` keys, counted in the metrics of the operation that triggered it."""
    metrics = current_metrics.get()
    if metrics is not None:
        metrics.observe_batch(loader_name, size)


def observe_tokens(provider: str, model: str, prompt: int, completion: int) -> None:
    metrics = current_metrics.get()
    if metrics is not None:
        metrics.observe_tokens(provider, model, prompt, completion)


class MetricsExtension(SchemaExtension):
    """Counts the operation when it ends. `on_execute` only marks a subscription as active: it runs once per
    operation, after validation, when the operation type is known."""

    def __init__(self, metrics: Metrics, *, execution_context: ExecutionContext | None = None) -> None:
        self.metrics = metrics
        self.subscribed = False
        if execution_context is not None:
            self.execution_context = execution_context

    def on_operation(self) -> Iterator[None]:
        ec = self.execution_context
        token = current_metrics.set(self.metrics)
        tally = CallTally(ec)
        started = time.perf_counter()
        failure: BaseException | None = None
        try:
            yield
        except BaseException as exc:
            failure = exc
            raise
        finally:
            elapsed = time.perf_counter() - started
            try:
                current_metrics.reset(token)
            except ValueError:  # closed from another context (a cancelled subscription)
                pass
            if self.subscribed:
                self.metrics.subscriptions.dec()
            observe(self.metrics, ec, tally, elapsed, failure)

    def on_execute(self) -> Iterator[None]:
        if not self.subscribed and operation_type(self.execution_context) == "subscription":
            self.subscribed = True
            self.metrics.subscriptions.inc()
        yield


def observe(metrics: Metrics, ec: ExecutionContext, tally: CallTally, elapsed: float,
            failure: BaseException | None, type_: str | None = None) -> None:
    """Count one ended operation: its name and type, duration, error codes and backend calls. `type_` is the
    operation's type where the caller knows it already (else `operation_type` reads it from the document)."""
    calls, millis = tally.delta()
    type_ = type_ or operation_type(ec)
    metrics.observe_operation(operation_name(ec), type_, elapsed, error_codes(ec, failure), calls, millis,
                              admit=validated(ec, type_))


async def metrics_endpoint(request: Request) -> Response:
    """GET /metrics for `request.app.state.metrics`, in the format the scraper accepts (Prometheus text by
    default). With a token set (RAGWEAVE_METRICS_TOKEN), only `Authorization: Bearer <token>` is served."""
    metrics: Metrics = request.app.state.metrics
    if metrics.token is not None:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), metrics.token.encode()):
            return PlainTextResponse("unauthorized\n", status_code=401, headers={"WWW-Authenticate": "Bearer"})
    registry = metrics.registry
    if names := request.query_params.getlist("name[]"):
        registry = registry.restricted_registry(names)
    encoder, content_type = choose_encoder(request.headers.get("accept", ""))
    return Response(encoder(registry), headers={"Content-Type": content_type})
