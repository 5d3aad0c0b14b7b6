"""Reading a request's headers without an exception for the ones it lacks."""

from __future__ import annotations

from collections.abc import Mapping


def header(headers: Mapping[str, str], name: str) -> str | None:
    """The header's value, or None. `in` first: Starlette's `Headers.get` of a header the request lacks raises and
    catches a KeyError (its `Mapping.get`), a cost on every request that lacks it."""
    return headers[name] if name in headers else None
