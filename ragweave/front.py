"""The one ASGI middleware in front of the routes: the body size limit on every HTTP request, the admission limit on
the GraphQL requests that count (`ragweave.admission`), and GraphQL over HTTP handed to the view directly.

`Route("/graphql", view, methods=["GET", "POST"])` would reach the same view through Starlette's exception
middleware, its router (each route's path matched in turn) and the route's method check; for a request this
middleware already knows is a GET or POST of the GraphQL path, those steps can only lead there. Starlette's
server-error middleware stays outside this one, so an unexpected exception is answered 500 as on every route.
Other methods on the path (405), WebSockets, the lifespan and every other path go through the router as before.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from ragweave.admission import Admission, counted
from ragweave.limits import BodySizeLimit

GRAPHQL_METHODS = ("GET", "POST")


class Front:
    def __init__(self, app: ASGIApp, *, graphql: ASGIApp, body_limit: BodySizeLimit, admission: Admission | None,
                 path: str = "/graphql") -> None:
        self.app = app
        self.graphql = graphql
        self.body_limit = body_limit
        self.admission = admission
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        graphql = scope["path"] == self.path and scope["method"] in GRAPHQL_METHODS
        app = self.graphql if graphql else self.app
        admission = self.admission
        if admission is None or not graphql or not counted(scope, self.path):
            await self.body_limit.serve(app, scope, receive, send)
            return
        if not await admission.enter(send):
            return
        try:
            await self.body_limit.serve(app, scope, receive, send)
        finally:
            admission.leave()
