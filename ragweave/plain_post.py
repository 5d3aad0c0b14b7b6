"""The HTTP view's path for the request most clients send: one operation POSTed as a JSON object.

Strawberry's `run` serves every kind of request (GET, multipart uploads, batches, SSE and multipart streams,
incremental delivery, the IDE) and pays for that generality on each one: the Content-Type header parsed through
`email.message`, a request adapter for every check, and `isinstance` against `SubscriptionExecutionResult`, a
runtime-checkable Protocol that `inspect`s the result. For a POST whose Content-Type is `application/json`, whose
Accept header asks for no stream, and whose body is one JSON object with the documented member types, the answer
can only be an `ExecutionResult` (POST cannot run a subscription, and incremental delivery is off). That request
goes through the same view methods in the same order (root value, sub-response, context, `execute_single`, which
`execute_operation` calls for it, `process_result`, error hook, `create_response`) without the rest. Anything else,
including every malformed body, goes to Strawberry's `run`, which reads the body Starlette already keeps and
answers as before.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from strawberry.http import GraphQLRequestData
from strawberry.types import ExecutionResult
from strawberry.types.unset import UNSET

from ragweave.headers import header

_OPTIONAL_OBJECT = (dict, type(None))
_KNOWN_ACCEPTS = 64


def _is_json(content_type: str | None) -> bool:
    """A subset of what Strawberry reads as JSON (a Content-Type whose media type contains `application/json`,
    case-sensitively), so that everything this path leaves to Strawberry stays answered as before."""
    return content_type is not None and content_type.partition(";")[0].strip() == "application/json"


class PlainPostMixin:
    """For a Strawberry ASGI view (`class View(PlainPostMixin, ..., GraphQL[...])`)."""

    async def run(self, request: Any, context: Any = UNSET, root_value: Any = UNSET) -> Any:
        if context is UNSET and root_value is UNSET and self._plain_post(request):
            data = await self._object_body(request)
            if data is not None:
                return await self._run_plain_post(request, data)
        return await super().run(request, context, root_value)  # type: ignore[misc]

    def _plain_post(self, request: Any) -> bool:
        if type(request) is not Request or request.method != "POST":
            return False
        headers = request.headers
        return (
            not self.schema.config.enable_experimental_incremental_execution  # type: ignore[attr-defined]
            and _is_json(header(headers, "content-type"))
            and not self._streams(header(headers, "accept") or "")
        )

    def _streams(self, accept: str) -> bool:
        """Whether Strawberry would answer this Accept header with a stream transport. Its check parses the header
        with `email.message` for each transport; the answer depends on the header alone, so it is kept per value
        (a bounded table: clients send a handful of them)."""
        known = self.__dict__.setdefault("_streaming_accepts", {})
        streams = known.get(accept)
        if streams is None:
            streams = self._get_stream_transport_from_headers({"accept": accept}) is not None  # type: ignore[attr-defined]
            if len(known) < _KNOWN_ACCEPTS:
                known[accept] = streams
        return streams

    async def _object_body(self, request: Request) -> dict[str, Any] | None:
        """The body when it is one JSON object whose members have the types Strawberry requires, else None. A
        failure to read the body (the client went away) propagates as it does from Strawberry's `run`."""
        body = await request.body()
        try:
            data = self.decode_json(body)  # type: ignore[attr-defined]
        except Exception:  # Strawberry's `run` decodes it again and reports it
            return None
        if (type(data) is not dict or not isinstance(data.get("query"), (str, type(None)))
                or not isinstance(data.get("variables"), _OPTIONAL_OBJECT)
                or not isinstance(data.get("extensions"), _OPTIONAL_OBJECT)):
            return None
        return data

    async def _run_plain_post(self, request: Request, data: dict[str, Any]) -> Any:
        root_value = await self.get_root_value(request)  # type: ignore[attr-defined]
        sub_response = await self.get_sub_response(request)  # type: ignore[attr-defined]
        context = await self.get_context(request, response=sub_response)  # type: ignore[attr-defined]
        request_data = GraphQLRequestData(
            query=data.get("query"), variables=data.get("variables"), operation_name=data.get("operationName"),
            extensions=data.get("extensions"), protocol="http",
        )
        # `execute_operation` hands a single request without a stream transport to `execute_single`
        result = await self.execute_single(  # type: ignore[attr-defined]
            request=request, request_adapter=self.request_adapter_class(request),  # type: ignore[attr-defined]
            request_data=request_data, context=context, root_value=root_value, sub_response=sub_response,
        )
        if not isinstance(result, ExecutionResult):
            raise TypeError(f"a plain POST cannot answer {type(result).__name__}")
        response_data = await self.process_result(request=request, result=result)  # type: ignore[attr-defined]
        if result.errors:
            self._handle_errors(result.errors, response_data)  # type: ignore[attr-defined]
        return self.create_response(response_data=response_data, sub_response=sub_response)  # type: ignore[attr-defined]
