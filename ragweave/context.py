"""The typed per-request context: shared datasources, the caller, and fresh DataLoaders."""

from __future__ import annotations

from dataclasses import dataclass, field

import strawberry
from starlette.requests import Request
from starlette.websockets import WebSocket

from ragweave.datasources.calls import CallLog
from ragweave.datasources.lifecycle import Datasources
from ragweave.errors import AppError, Forbidden
from ragweave.jobs import JobBoard
from ragweave.loaders import Loaders
from ragweave.ratelimit import Limiter
from ragweave.settings import Settings

ROLES = ("reader", "writer", "admin")


@dataclass(slots=True)
class Context:
    datasources: Datasources
    settings: Settings
    tenant: str
    role: str
    loaders: Loaders
    jobs: JobBoard
    request: Request | WebSocket | None = None
    call_log: CallLog = field(default_factory=CallLog)
    connection_params: dict[str, object] | None = None
    auth_error: AppError | None = None
    limiter: Limiter | None = None
    rate_key: str = "local"

    def become(self, tenant: str, role: str, rate_key: str) -> None:
        """Switch to an authenticated caller (WebSocket connection_init); loaders are rebuilt for the tenant."""
        if tenant != self.tenant:
            self.loaders = Loaders(self.datasources, tenant)
        self.tenant, self.role, self.auth_error, self.rate_key = tenant, role, None, rate_key

    def require(self, role: str) -> None:
        if ROLES.index(self.role) < ROLES.index(role):
            raise Forbidden(f"this needs the `{role}` role; the caller has `{self.role}`", required=role)

    def fresh_loaders(self) -> Loaders:
        """Subscriptions outlive a tick and share one connection context: each takes its own loaders."""
        return Loaders(self.datasources, self.tenant)


Info = strawberry.Info[Context, None]


def build_context(
    datasources: Datasources, settings: Settings, jobs: JobBoard, *, tenant: str | None = None,
    role: str = "admin", request: Request | WebSocket | None = None,
) -> Context:
    tenant = tenant or settings.tenant
    return Context(
        datasources=datasources, settings=settings, tenant=tenant, role=role,
        loaders=Loaders(datasources, tenant), jobs=jobs, request=request,
    )
