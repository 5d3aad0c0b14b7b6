"""Reading a request's headers without an exception for the ones it lacks."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.datastructures import Headers


def header(headers: Mapping[str, str], name: str) -> str | None:
    """The header's value (the first, if repeated), or None; `name` in lower case. Starlette's `Headers.get` of a
    header the request lacks raises and catches a KeyError (its `Mapping.get`), and `in` then `[]` would scan the
    headers twice, lowering and encoding the name each time: one scan of the raw list instead."""
    if type(headers) is Headers:
        key = name.encode("latin-1")
        for raw_name, value in headers.raw:
            if raw_name == key:
                return value.decode("latin-1")
        return None
    return headers[name] if name in headers else None
