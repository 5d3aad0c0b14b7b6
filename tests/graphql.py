"""Executing operations against the real schema with real datasources, the way Strawberry's docs test."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import strawberry

from ragweave.context import build_context
from ragweave.datasources.lifecycle import Datasources
from ragweave.jobs import JobBoard
from ragweave.ratelimit import Limiter
from ragweave.schema import build_schema
from ragweave.settings import Settings

SETTINGS = Settings(debug_extensions=True)


@functools.cache
def schema() -> strawberry.Schema:
    return build_schema(SETTINGS)


@dataclass
class Response:
    data: dict[str, Any] | None
    errors: list[dict[str, Any]]
    extensions: dict[str, Any]

    @property
    def calls(self) -> dict[str, int]:
        return self.extensions.get("backendCalls", {})

    def codes(self) -> list[str]:
        return [e.get("extensions", {}).get("code") for e in self.errors]

    def ok(self) -> dict[str, Any]:
        assert not self.errors, self.errors
        assert self.data is not None
        return self.data


async def execute(
    ds: Datasources, query: str, variables: dict[str, Any] | None = None, *, tenant: str, role: str = "admin",
    jobs: JobBoard | None = None, operation: str | None = None, settings: Settings = SETTINGS,
    limiter: Limiter | None = None,
) -> Response:
    context = build_context(ds, settings, jobs or JobBoard(), tenant=tenant, role=role)
    context.limiter = limiter
    result = await schema().execute(
        query, variable_values=variables, context_value=context, operation_name=operation
    )
    errors = [e.formatted for e in result.errors or []]
    return Response(data=result.data, errors=errors, extensions=result.extensions or {})
