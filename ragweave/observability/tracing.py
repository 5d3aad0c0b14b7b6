"""OpenTelemetry traces, only when OTEL_EXPORTER_OTLP_ENDPOINT is set: one span per GraphQL operation and one
per backend call, with the GenAI model and token attributes on LLM calls.

OpenTelemetry is the optional extra `ragweave[otel]` and is imported only by `configure_tracing`. Until a tracer
provider is installed, `backend_span` returns a shared no-op context manager and the other helpers return at
once; `operation_extensions` leaves `TracingExtension` out of the schema. Like the package's `__init__`, this
module imports nothing heavy (ragweave.datasources.calls imports it): `TracingExtension` is built on first use.

The exporter and resource follow the standard variables (OTEL_EXPORTER_OTLP_PROTOCOL: http/protobuf by
default, or grpc with opentelemetry-exporter-otlp-proto-grpc; OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES,
OTEL_EXPORTER_OTLP_HEADERS, ...). An incoming W3C `traceparent` header makes the operation span its child.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager
from typing import Any

from ragweave import __version__
from ragweave.observability import error_codes, operation_name, operation_type, split_call
from ragweave.settings import SettingsError

_NOOP: AbstractContextManager[None] = contextlib.nullcontext()
_tracer: Any = None  # opentelemetry.trace.Tracer once a provider is installed
_provider: Any = None
_otel: Any = None  # the opentelemetry.trace module, imported with the provider


def tracing_enabled() -> bool:
    return _tracer is not None


def configure_tracing(env: Mapping[str, str] | None = None) -> bool:
    """Install an OTLP-exporting tracer provider if the environment asks for one (once per process)."""
    env = os.environ if env is None else env
    endpoint = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    if not endpoint or env.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return False
    if _provider is not None:
        return True
    try:
        from opentelemetry import trace
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError as exc:
        raise SettingsError("OTEL_EXPORTER_OTLP_ENDPOINT is set but OpenTelemetry is not installed: "
                            "pip install 'ragweave[otel]'") from exc
    attributes = {"service.version": __version__}
    if env.get("OTEL_SERVICE_NAME"):
        attributes["service.name"] = env["OTEL_SERVICE_NAME"]
    elif "service.name=" not in env.get("OTEL_RESOURCE_ATTRIBUTES", ""):
        attributes["service.name"] = "ragweave"
    provider = TracerProvider(resource=Resource.create(attributes))
    provider.add_span_processor(BatchSpanProcessor(_otlp_exporter(env, endpoint)))
    trace.set_tracer_provider(provider)  # for other instrumentation too
    use_tracer_provider(provider)
    return True


def _otlp_exporter(env: Mapping[str, str], endpoint: str) -> Any:
    """The exporter reads its other settings (headers, timeout, TLS) from the environment itself."""
    protocol = env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or env.get("OTEL_EXPORTER_OTLP_PROTOCOL")
    protocol = protocol or "http/protobuf"
    try:
        if protocol == "grpc":
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
        else:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    except ImportError as exc:
        raise SettingsError(f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol}: no exporter installed; pip install "
                            "'ragweave[otel]' (grpc also needs opentelemetry-exporter-otlp-proto-grpc)") from exc
    if protocol != "grpc" and not env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        endpoint = endpoint.rstrip("/") + "/v1/traces"  # the signal path, as the spec says for the base endpoint
    return OTLPSpanExporter(endpoint=endpoint)


def use_tracer_provider(provider: Any) -> None:
    """Trace into `provider` (an SDK TracerProvider), or stop tracing with None. Tests pass one with an
    in-memory exporter; it is not made the global provider."""
    global _tracer, _provider, _otel
    if provider is None:
        _tracer = _provider = None
        return
    from opentelemetry import trace

    _otel, _provider, _tracer = trace, provider, provider.get_tracer("ragweave", __version__)


def shutdown_tracing() -> None:
    """Flush and stop the provider (the SDK also does this at interpreter exit)."""
    provider = _provider
    use_tracer_provider(None)
    if provider is not None:
        provider.shutdown()


def backend_span(name: str) -> AbstractContextManager[Any]:
    """A CLIENT span around one backend call named like the CallLog's ("graph.neighbors")."""
    if _tracer is None:
        return _NOOP
    return _backend_span(name)


@contextlib.contextmanager
def _backend_span(name: str) -> Iterator[Any]:
    backend, method = split_call(name)
    with _tracer.start_as_current_span(
        name, kind=_otel.SpanKind.CLIENT, attributes={"ragweave.backend": backend, "ragweave.method": method},
        record_exception=False, set_status_on_exception=False,
    ) as span:
        try:
            yield span
        except asyncio.CancelledError:  # a hedge that lost, or a client that went away: not a failure
            span.set_attribute("ragweave.cancelled", True)
            raise
        except Exception as exc:
            span.record_exception(exc)
            span.set_attribute("error.type", getattr(exc, "code", None) or type(exc).__qualname__)
            span.set_status(_otel.Status(_otel.StatusCode.ERROR, type(exc).__name__))
            raise


def annotate_llm(provider: str, model: str, prompt_tokens: int | None, completion_tokens: int | None) -> None:
    """GenAI semantic-convention attributes on the current span (the `llm.*` backend span)."""
    if _tracer is None:
        return
    span = _otel.get_current_span()
    if not span.is_recording():
        return
    span.set_attributes({"gen_ai.provider.name": provider, "gen_ai.response.model": model})
    if prompt_tokens is not None:
        span.set_attribute("gen_ai.usage.input_tokens", prompt_tokens)
    if completion_tokens is not None:
        span.set_attribute("gen_ai.usage.output_tokens", completion_tokens)


def _server_side(code: str) -> bool:
    return code == "INTERNAL_SERVER_ERROR" or code.endswith(("_UNAVAILABLE", "_TIMEOUT"))


def _propagated(headers: Mapping[str, str]) -> Any:
    from opentelemetry.propagate import extract

    return extract(headers)


@functools.cache
def _extension_class() -> type:
    from strawberry.extensions import SchemaExtension

    class TracingExtension(SchemaExtension):
        """One SERVER span per operation, named like the GraphQL semantic conventions ("query Search"). Never the
        query text or variables. Its status is ERROR only for server-side error codes."""

        def on_operation(self) -> Iterator[None]:
            if _tracer is None:
                yield
                return
            ec = self.execution_context
            request = getattr(ec.context, "request", None)
            parent = _propagated(request.headers) if request is not None else None
            with _tracer.start_as_current_span(
                "GraphQL Operation", context=parent, kind=_otel.SpanKind.SERVER,
                record_exception=False, set_status_on_exception=False,
            ) as span:
                failure: BaseException | None = None
                try:
                    yield
                except BaseException as exc:
                    failure = exc
                    raise
                finally:
                    self._finish(span, failure)

        def _finish(self, span: Any, failure: BaseException | None) -> None:
            ec = self.execution_context
            name, type_ = operation_name(ec), operation_type(ec)
            span.update_name(f"{type_} {name}" if name else type_)
            span.set_attribute("graphql.operation.type", type_)
            if name:
                span.set_attribute("graphql.operation.name", name)
            tenant = getattr(ec.context, "tenant", None)
            if tenant:
                span.set_attribute("ragweave.tenant", tenant)
            if codes := error_codes(ec, failure):
                span.set_attribute("ragweave.error_codes", codes)
                if any(_server_side(c) for c in codes):
                    span.set_status(_otel.Status(_otel.StatusCode.ERROR, ",".join(sorted(set(codes)))))

    TracingExtension.__qualname__ = "TracingExtension"
    return TracingExtension


def __getattr__(name: str) -> Any:  # PEP 562: `from ragweave.observability.tracing import TracingExtension`
    if name == "TracingExtension":
        return _extension_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
