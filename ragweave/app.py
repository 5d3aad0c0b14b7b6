"""The ASGI app: Starlette owns the lifespan (datasources open once), Strawberry serves /graphql."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import orjson
from cross_web import HTTPException
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLHTTPResponse
from strawberry.subscriptions import GRAPHQL_SSE_PROTOCOL, GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL
from strawberry.types import ExecutionResult
from strawberry.types.unset import UNSET, UnsetType

from ragweave import auth
from ragweave.admission import Admission
from ragweave.context import Context, build_context
from ragweave.datasources.lifecycle import Datasources, open_datasources
from ragweave.errors import Unauthenticated
from ragweave.front import GRAPHQL_METHODS, Front
from ragweave.gc_tuning import tune_for_serving
from ragweave.graphiql.page import graphiql_html
from ragweave.jobs import JobBoard
from ragweave.limits import BodySizeLimit
from ragweave.observability import operation_extensions
from ragweave.observability.metrics import Metrics, metrics_endpoint
from ragweave.observability.tracing import configure_tracing
from ragweave.persisted import PersistedQueries, PersistedQueriesMixin
from ragweave.plain_post import PlainPostMixin
from ragweave.ratelimit import limiter_for
from ragweave.schema import build_schema
from ragweave.schema.extensions import coded
from ragweave.settings import Settings

log = logging.getLogger("ragweave")
OpenDatasources = Callable[[Settings], AbstractAsyncContextManager[Datasources]]


class GraphQLView(PlainPostMixin, PersistedQueriesMixin, GraphQL[Context, None]):
    def __init__(self, settings: Settings, metrics: Metrics | None = None, **kwargs: object) -> None:
        super().__init__(build_schema(settings, operation_extensions(metrics, log_debug=settings.log_debug)), **kwargs)
        self.settings = settings
        outcome = metrics.observe_persisted if metrics is not None else None
        self.persisted_queries = PersistedQueries.from_settings(settings, on_outcome=outcome)

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> Context:
        state = _lifespan_state(request)
        context = build_context(state["datasources"], self.settings, state["jobs"], request=request)
        context.limiter = state["limiter"]
        self._authenticate(context, auth.key_from(request.headers))
        return context

    def _authenticate(self, context: Context, key: str | None) -> None:
        request = context.request
        host = request.client.host if request is not None and request.client else None
        try:
            caller = auth.authenticate(_lifespan_state(request)["keys"], key, host, dev_mode=self.settings.dev_mode,
                                       tenant=self.settings.tenant)
        except Unauthenticated as exc:
            context.auth_error = exc
            return
        context.become(caller.tenant, caller.role, caller.key_id or f"anonymous:{host}")

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        key = auth.key_from(context.request.headers, context.connection_params or {})
        if key is not None or context.auth_error is not None:
            self._authenticate(context, key)
        if context.auth_error is not None:
            raise ConnectionRejectionError({"code": "UNAUTHENTICATED", "message": str(context.auth_error)})
        return UNSET

    async def render_graphql_ide(self, request: Request) -> Response:
        return HTMLResponse(graphiql_html("/graphql"))

    def decode_json(self, data: str | bytes) -> object:
        """A body (or `variables`) that is valid JSON but not an object or a batch is a client error, not a crash.
        orjson first; what it refuses (malformed JSON, but also NaN, integers over 64 bits, lone surrogates, deep
        nesting) gets the standard library's answer, so accepted bodies and error messages stay the same."""
        try:
            value = orjson.loads(data)
        except orjson.JSONDecodeError:
            try:
                value = super().decode_json(data)
            except RecursionError:
                raise HTTPException(400, "the request body is nested too deeply") from None
        if not isinstance(value, dict | list):
            raise HTTPException(400, "the request body must be a JSON object")
        return value

    def encode_json(self, data: object) -> str:
        """A str, not orjson's bytes: Strawberry sends bytes over a WebSocket as binary frames."""
        return _json_bytes(data).decode()

    async def get_sub_response(self, request: Request | WebSocket) -> Response:
        return SubResponse()

    def create_response(self, response_data: object, sub_response: Response) -> Response:
        """Strawberry's, with the body encoded straight to bytes (`encode_json` makes a str, which the response
        encodes again)."""
        response = Response(_json_bytes(response_data), status_code=sub_response.status_code or 200,
                            media_type="application/json")
        response.raw_headers.extend(sub_response.raw_headers)  # what `headers` of either reads and writes
        if sub_response.background:
            response.background = sub_response.background
        return response

    async def process_result(self, request: Request, result: ExecutionResult) -> GraphQLHTTPResponse:
        if result.errors:
            result.errors = [coded(e) for e in result.errors]
        return await super().process_result(request, result)


class SubResponse(Response):
    """What an operation may set on its HTTP response (status, headers, a background task), as Strawberry's
    sub-response, which is a whole Response built with a content-length header and then has that header deleted
    again: for every request."""

    def __init__(self) -> None:
        self.status_code = None  # type: ignore[assignment]
        self.background = None
        self.raw_headers = []


def _lifespan_state(connection: Request | WebSocket) -> dict[str, object]:
    """What the lifespan yielded, as the request's scope holds it: `request.state` wraps the same dict in an object
    whose every attribute read raises and catches an AttributeError before its `__getattr__` finds the key."""
    return connection.scope["state"]


def _json_bytes(data: object) -> bytes:
    try:
        return orjson.dumps(data)
    except orjson.JSONEncodeError:  # e.g. an integer over 64 bits in a JSON scalar
        return json.dumps(data, separators=(",", ":")).encode()


async def healthz(request: Request) -> Response:
    return JSONResponse({"ok": True})


async def readyz(request: Request) -> Response:
    backends = [b for b in await request.state.datasources.health() if not b.name.startswith("llm:")]
    failing = [b.name for b in backends if not b.ok]
    body = {
        "ok": not failing, "failing": failing,
        "backends": [{"name": b.name, "ok": b.ok, "error": b.error} for b in backends],
    }
    return JSONResponse(body, status_code=503 if failing else 200)


def create_app(
    settings: Settings | None = None,
    open_ds: OpenDatasources = open_datasources,
    on_ready: Callable[[Datasources], object] | None = None,
) -> Starlette:
    settings = settings or Settings.from_env()
    configure_tracing()
    metrics = Metrics(token=settings.metrics_token)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, object]]:
        async with open_ds(settings) as datasources:
            if on_ready is not None:
                await on_ready(datasources)  # type: ignore[misc]
            if settings.gc_tuning:
                tune_for_serving()
            log.info("ragweave ready: %s", datasources.names)
            if settings.dev_mode:
                log.warning("DEV MODE: anonymous requests from loopback act as tenant %r with role admin",
                            settings.tenant)
            limiter = limiter_for(settings.redis_url, settings.rate_per_s, settings.rate_burst)
            try:
                yield {"datasources": datasources, "jobs": JobBoard(), "keys": auth.KeyStore(settings.keys_path),
                       "limiter": limiter}
            finally:
                if limiter is not None:
                    await limiter.aclose()

    view = GraphQLView(
        settings, metrics, graphql_ide="graphiql" if settings.graphql_ide else None, keep_alive=True,
        subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL, GRAPHQL_SSE_PROTOCOL),
    )
    routes = [
        Route("/graphql", view, methods=list(GRAPHQL_METHODS)),  # reached through `Front` for those methods
        WebSocketRoute("/graphql", view),
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", metrics_endpoint),
    ]
    if settings.graphql_ide:
        routes.append(Mount("/graphiql/static", StaticFiles(packages=[("ragweave.graphiql", "static")])))
    admission = (Admission(settings.max_in_flight, settings.admission_wait_s, settings.max_queued, metrics)
                 if settings.max_in_flight > 0 else None)
    middleware = [Middleware(Front, graphql=view, body_limit=BodySizeLimit(settings.max_body_bytes),
                             admission=admission)]
    app = Starlette(routes=routes, lifespan=lifespan, middleware=middleware)
    app.state.metrics = metrics
    return app
