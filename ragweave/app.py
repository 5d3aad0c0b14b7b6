"""The ASGI app: Starlette owns the lifespan (datasources open once), Strawberry serves /graphql."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL
from strawberry.types import ExecutionResult

from ragweave.context import Context, build_context
from ragweave.datasources.lifecycle import Datasources, open_datasources
from ragweave.jobs import JobBoard
from ragweave.schema import build_schema
from ragweave.schema.extensions import coded
from ragweave.settings import Settings

log = logging.getLogger("ragweave")
OpenDatasources = Callable[[Settings], AbstractAsyncContextManager[Datasources]]


class GraphQLView(GraphQL[Context, None]):
    def __init__(self, settings: Settings, **kwargs: object) -> None:
        super().__init__(build_schema(settings), **kwargs)
        self.settings = settings

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> Context:
        return build_context(request.state.datasources, self.settings, request.state.jobs, request=request)

    async def process_result(self, request: Request, result: ExecutionResult) -> GraphQLHTTPResponse:
        if result.errors:
            result.errors = [coded(e) for e in result.errors]
        return await super().process_result(request, result)


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

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, object]]:
        async with open_ds(settings) as datasources:
            if on_ready is not None:
                await on_ready(datasources)  # type: ignore[misc]
            log.info("ragweave ready: %s", datasources.names)
            yield {"datasources": datasources, "jobs": JobBoard()}

    view = GraphQLView(
        settings, graphql_ide="graphiql" if settings.graphql_ide else None, keep_alive=True,
        subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL),
    )
    routes = [
        Route("/graphql", view, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", view),
        Route("/healthz", healthz),
        Route("/readyz", readyz),
    ]
    return Starlette(routes=routes, lifespan=lifespan)
