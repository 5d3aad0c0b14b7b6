"""`ragweave.headers.header` answers what Starlette's `Headers.get` answers, for any mapping of headers."""

from __future__ import annotations

from starlette.datastructures import Headers

from ragweave.headers import header

RAW = [(b"content-type", b"application/json"), (b"x-api-key", b"rw_a_b"), (b"accept", b"text/html"),
       (b"accept", b"application/json"), (b"x-latin", "café".encode("latin-1"))]


def test_the_value_of_a_header_as_starlette_reads_it():
    headers = Headers(raw=RAW)
    for name in ("content-type", "x-api-key", "accept", "x-latin", "authorization", "content"):
        assert header(headers, name) == headers.get(name), name
    assert header(headers, "accept") == "text/html"  # the first of a repeated header
    assert header(headers, "x-latin") == "café"
    assert header(Headers(raw=[]), "accept") is None


def test_any_other_mapping_is_read_by_name():
    plain = {"authorization": "Bearer k"}
    assert header(plain, "authorization") == "Bearer k"
    assert header(plain, "x-api-key") is None
