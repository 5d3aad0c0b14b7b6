"""Persisted queries: Apollo's automatic persisted queries (APQ) and a trusted-documents mode (a safelist).

APQ: a request carries `extensions.persistedQuery = {"version": 1, "sha256Hash": <hex>}`. With no query text the
hash is looked up (a miss asks the client to send the text); with the text too, sha256(text) must equal the hash
and the pair is stored in a bounded LRU once the operation has parsed and validated.

Trusted documents (RAGWEAVE_TRUSTED_DOCUMENTS=<manifest.json>, Apollo's persisted query manifest:
{"format": "apollo-persisted-query-manifest", "version": 1, "operations": [{"id", "name", "type", "body"}]}):
only the listed operations run, sent by id (as `sha256Hash`) or by body (identical up to whitespace and
comments). This applies over WebSocket too. The manifest replaces the APQ store.

Errors are GraphQL errors with the codes, messages and statuses of Apollo Server 4 (APQ) and the Apollo Router
(safelist); Apollo gives a hash mismatch no code, so it gets PERSISTED_QUERY_HASH_MISMATCH:

    PERSISTED_QUERY_NOT_FOUND      200  PersistedQueryNotFound      (Cache-Control: private, no-cache, must-revalidate)
    PERSISTED_QUERY_NOT_SUPPORTED  200  PersistedQueryNotSupported  (APQ off; same header)
    PERSISTED_QUERY_HASH_MISMATCH  400  provided sha does not match query
    BAD_REQUEST                    400  Unsupported persisted query version
    PERSISTED_QUERY_NOT_IN_LIST    404  Persisted query '<id>' not found in the persisted query list
    QUERY_NOT_IN_SAFELIST          403  The operation body was not found in the persisted query safelist
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from graphql import GraphQLError, strip_ignored_characters
from strawberry.http import GraphQLRequestData
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler
from strawberry.types import ExecutionResult
from strawberry.types.execution import PreExecutionError

from ragweave.settings import SettingsError

MANIFEST_FORMAT = "apollo-persisted-query-manifest"
NO_CACHE = {"Cache-Control": "private, no-cache, must-revalidate"}
Outcome = Callable[[str, str | None], None]  # (hit | miss | register | trusted | refused, code of a refusal)


class PersistedQueryError(Exception):
    def __init__(self, code: str, message: str, status: int = 200, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.status, self.headers = code, message, status, dict(headers or {})

    def graphql_error(self) -> GraphQLError:
        return GraphQLError(self.message, extensions={"code": self.code})


def not_found() -> PersistedQueryError:
    return PersistedQueryError("PERSISTED_QUERY_NOT_FOUND", "PersistedQueryNotFound", 200, NO_CACHE)


def not_supported() -> PersistedQueryError:
    return PersistedQueryError("PERSISTED_QUERY_NOT_SUPPORTED", "PersistedQueryNotSupported", 200, NO_CACHE)


def sha256_hex(query: str) -> str:
    return hashlib.sha256(query.encode()).hexdigest()


class APQCache:
    """LRU of hash -> query text, bounded in entries and in characters."""

    def __init__(self, max_entries: int = 10_000, max_chars: int = 32 * 1024 * 1024) -> None:
        self.max_entries, self.max_chars = max_entries, max_chars
        self._entries: OrderedDict[str, str] = OrderedDict()
        self._chars = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, sha: str) -> str | None:
        query = self._entries.get(sha)
        if query is not None:
            self._entries.move_to_end(sha)
        return query

    def put(self, sha: str, query: str) -> bool:
        """Whether the entry is new."""
        if len(query) > self.max_chars or sha in self._entries:
            return False
        self._entries[sha] = query
        self._chars += len(query)
        while len(self._entries) > self.max_entries or self._chars > self.max_chars:
            self._chars -= len(self._entries.popitem(last=False)[1])
        return True


def _normalized(query: str) -> str | None:
    try:
        return strip_ignored_characters(query)
    except GraphQLError:
        return None


@dataclass(frozen=True, slots=True)
class TrustedDocuments:
    by_id: Mapping[str, str]
    bodies: frozenset[str]
    longest: int

    @classmethod
    def from_operations(cls, operations: Mapping[str, str]) -> TrustedDocuments:
        bodies = {b for body in operations.values() for b in (body, _normalized(body)) if b is not None}
        return cls(dict(operations), frozenset(bodies), max(map(len, operations.values()), default=0))

    @classmethod
    def load(cls, path: Path) -> TrustedDocuments:
        name = "RAGWEAVE_TRUSTED_DOCUMENTS"
        try:
            manifest = json.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise SettingsError(f"{name}: cannot read {path}: {exc.strerror}") from None
        except json.JSONDecodeError as exc:
            raise SettingsError(f"{name}: {path} is not valid JSON: {exc}") from None
        if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT or manifest.get("version") != 1:
            raise SettingsError(f'{name}: {path} is not a {{"format": "{MANIFEST_FORMAT}", "version": 1}} manifest')
        operations = manifest.get("operations")
        if not isinstance(operations, list) or not all(
            isinstance(op, dict) and isinstance(op.get("id"), str) and isinstance(op.get("body"), str)
            for op in operations
        ):
            raise SettingsError(f"{name}: {path}: `operations` must be a list of objects with string `id` and `body`")
        return cls.from_operations({op["id"]: op["body"] for op in operations})

    def allows(self, query: str) -> bool:
        if query in self.bodies:
            return True
        # whitespace and comments may differ; a text far longer than every listed body is not lexed at all
        return len(query) <= 4 * self.longest + 1024 and _normalized(query) in self.bodies


@dataclass(frozen=True, slots=True)
class Resolved:
    query: str | None
    register: str | None = None  # store query under this hash once it has validated


class PersistedQueries:
    def __init__(
        self, *, apq_size: int = 10_000, trusted: TrustedDocuments | None = None, on_outcome: Outcome | None = None
    ) -> None:
        self.apq = APQCache(apq_size) if apq_size > 0 else None
        self.trusted = trusted
        self.on_outcome = on_outcome

    @classmethod
    def from_settings(cls, settings: Any, on_outcome: Outcome | None = None) -> PersistedQueries:
        path = getattr(settings, "trusted_documents", None)
        return cls(apq_size=getattr(settings, "apq_cache_size", 10_000),
                   trusted=TrustedDocuments.load(path) if path else None, on_outcome=on_outcome)

    def _report(self, outcome: str, code: str | None = None) -> None:
        if self.on_outcome is not None:
            self.on_outcome(outcome, code)

    def resolve(self, query: str | None, extensions: Mapping[str, Any] | None) -> Resolved:
        """The query text to run; raises PersistedQueryError to refuse the request."""
        try:
            resolved = self._resolve(query, (extensions or {}).get("persistedQuery"))
        except PersistedQueryError as refusal:
            self._report("miss" if refusal.code == "PERSISTED_QUERY_NOT_FOUND" else "refused", refusal.code)
            raise
        return resolved

    def _resolve(self, query: str | None, pq: object) -> Resolved:
        sha = self._hash(pq) if pq is not None else None
        if self.trusted is not None:
            return self._trusted(query, sha)
        if sha is None:
            return Resolved(query)
        if self.apq is None:
            raise not_supported()
        if query is None:
            found = self.apq.get(sha)
            if found is None:
                raise not_found()
            self._report("hit")
            return Resolved(found)
        if sha256_hex(query) != sha:
            raise PersistedQueryError("PERSISTED_QUERY_HASH_MISMATCH", "provided sha does not match query", 400)
        return Resolved(query, register=sha)

    def _trusted(self, query: str | None, sha: str | None) -> Resolved:
        assert self.trusted is not None
        if query is None:
            if sha is None:
                return Resolved(None)  # no query at all: Strawberry's own 400
            body = self.trusted.by_id.get(sha)
            if body is None:
                raise PersistedQueryError("PERSISTED_QUERY_NOT_IN_LIST",
                                          f"Persisted query '{sha}' not found in the persisted query list", 404)
            query = body
        elif not self.trusted.allows(query):
            raise PersistedQueryError("QUERY_NOT_IN_SAFELIST",
                                      "The operation body was not found in the persisted query safelist", 403)
        self._report("trusted")
        return Resolved(query)

    @staticmethod
    def _hash(pq: object) -> str:
        if not isinstance(pq, dict) or pq.get("version") != 1:
            raise PersistedQueryError("BAD_REQUEST", "Unsupported persisted query version", 400)
        sha = pq.get("sha256Hash")
        if not isinstance(sha, str) or not sha:
            raise PersistedQueryError("BAD_REQUEST", "persistedQuery.sha256Hash must be a non-empty string", 400)
        return sha

    def register(self, sha: str, query: str) -> None:
        if self.apq is not None and self.apq.put(sha, query):
            self._report("register")


def _resolve_request(view: Any, data: GraphQLRequestData) -> str | None:
    """Fills `data.query` in; returns the hash to register under after a successful run."""
    store: PersistedQueries | None = view.persisted_queries
    persisted = (data.extensions or {}).get("persistedQuery")
    if store is None:
        if persisted is not None:
            raise not_supported()
        return None
    if persisted is None and store.trusted is None:  # a query sent as text, with nothing to check it against
        return None
    resolved = store.resolve(data.query, data.extensions)
    data.query = resolved.query
    return resolved.register


def _refused(refusal: PersistedQueryError, sub_response: Any) -> ExecutionResult:
    sub_response.status_code = refusal.status
    for name, value in refusal.headers.items():
        sub_response.headers[name] = value
    return ExecutionResult(data=None, errors=[refusal.graphql_error()])


async def _resolve_message(handler: Any, message: Any, wrap: Callable[[object], object]) -> bool:
    """Resolves a WebSocket operation's payload in place; False when it was refused (with an `error` message)."""
    store: PersistedQueries | None = getattr(handler.view, "persisted_queries", None)
    if store is None or not handler.connection_acknowledged:
        return True
    payload = message["payload"]
    try:
        resolved = store.resolve(payload.get("query"), payload.get("extensions"))
    except PersistedQueryError as refusal:
        error = refusal.graphql_error().formatted
        await handler.send_message({"id": message["id"], "type": "error", "payload": wrap(error)})
        return False
    if resolved.query is not None:  # else Strawberry's own answer to a message without a query
        payload["query"] = resolved.query
        if resolved.register:
            store.register(resolved.register, resolved.query)
    return True


class PersistedTransportWSHandler(BaseGraphQLTransportWSHandler):
    async def handle_subscribe(self, message: Any) -> None:
        if await _resolve_message(self, message, lambda error: [error]):
            await super().handle_subscribe(message)


class PersistedWSHandler(BaseGraphQLWSHandler):
    async def handle_start(self, message: Any) -> None:
        if await _resolve_message(self, message, lambda error: error):
            await super().handle_start(message)


class PersistedQueriesMixin:
    """For a Strawberry async view (`class GraphQLView(PersistedQueriesMixin, GraphQL[...])`): resolves persisted
    queries on GET and POST (and streaming transports) before Strawberry executes, and on WebSocket operations.
    Set `persisted_queries`; left None, a persisted query gets PERSISTED_QUERY_NOT_SUPPORTED."""

    persisted_queries: PersistedQueries | None = None
    graphql_transport_ws_handler_class = PersistedTransportWSHandler
    graphql_ws_handler_class = PersistedWSHandler

    def should_render_graphql_ide(self, request: Any) -> bool:
        # a GET by hash has no `query` parameter, like a browser asking for the IDE; Strawberry's check first, as
        # it refuses a POST before the query string is parsed
        return super().should_render_graphql_ide(request) and request.query_params.get("extensions") is None  # type: ignore[misc]

    async def execute_single(
        self, request: Any, request_adapter: Any, sub_response: Any, context: Any, root_value: Any,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        try:
            register = _resolve_request(self, request_data)
        except PersistedQueryError as refusal:
            return _refused(refusal, sub_response)
        result = await super().execute_single(  # type: ignore[misc]
            request=request, request_adapter=request_adapter, sub_response=sub_response, context=context,
            root_value=root_value, request_data=request_data,
        )
        if register is not None and request_data.query is not None and not isinstance(result, PreExecutionError):
            self.persisted_queries.register(register, request_data.query)  # type: ignore[union-attr]
        return result

    async def execute_operation(
        self, request: Any, request_adapter: Any, request_data: GraphQLRequestData | list[GraphQLRequestData],
        context: Any, root_value: Any, sub_response: Any,
    ) -> Any:
        """Streaming transports (SSE, multipart) run the schema without `execute_single`: resolve for them here."""
        data = request_data
        if isinstance(data, GraphQLRequestData) and self._get_stream_transport(data.protocol):  # type: ignore[attr-defined]
            try:
                register = _resolve_request(self, data)
            except PersistedQueryError as refusal:
                return _refused(refusal, sub_response)
            if register is not None and data.query is not None:
                self.persisted_queries.register(register, data.query)  # type: ignore[union-attr]
        return await super().execute_operation(  # type: ignore[misc]
            request=request, request_adapter=request_adapter, request_data=request_data, context=context,
            root_value=root_value, sub_response=sub_response,
        )
