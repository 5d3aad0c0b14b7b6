"""A real HTTP server on 127.0.0.1 speaking the OpenAI wire protocol, for end-to-end tests of `openai.AsyncOpenAI`.

Usage::

    with OpenAITestServer() as server:
        client = openai.AsyncOpenAI(base_url=server.base_url, api_key="test", max_retries=0)

`start()` runs uvicorn (h11, asyncio) on a free port in a background thread; every instance is independent, so a
test can run a primary and a fallback provider side by side. `stop()` also releases hung requests.

Endpoints:

- `POST /v1/chat/completions`: JSON, or SSE when `stream` is true (a role chunk, one chunk per word, a finish
  chunk, a usage chunk when `stream_options.include_usage`, then `data: [DONE]`). The reply is, in order of
  precedence: the text of a scripted `ok(text)`, `server.json_reply` when `response_format` is `json_object` or
  `json_schema` (default `{}`), `server.reply` (set with `reply_with`), else `"Echo: <last user message>"` (first
  `ECHO_MAX_WORDS` words).
- `POST /v1/embeddings`: hashed bag-of-words vectors (each lower-cased word hashes to a fixed pseudo-random vector;
  the sum is L2-normalised), so identical texts get identical vectors and texts sharing words are similar. The
  dimension is `dim` (default 384) unless the request sets `dimensions`. `encoding_format` "float" returns lists,
  "base64" returns little-endian float32 bytes; the openai client asks for base64 when the caller does not choose.
- `GET /v1/models`: lists `server.models`.

Token usage counts whitespace-separated words: the prompt is every message's content, the completion the reply.
Errors use OpenAI's shape `{"error": {"message", "type", "param", "code"}}`.

Scripting faults: `server.script(*steps, endpoint=None)` queues steps; each POST request consumes the first queued
step whose endpoint matches ("chat", "embeddings" or None for any); with nothing queued the behaviour is normal.

- `ok(text=None, delay=0.0)`: answer normally after `delay`, optionally with `text` as the chat reply.
- `status(code, retry_after=None, body=None)`: an error response, with `Retry-After` when given.
- `hang()`: never answer, until the client disconnects or the server stops.
- `drop_stream(after_chunks=n)`: send n SSE events, then close the connection without `[DONE]` (for a non-stream
  request: half the JSON body, then close).
- `slow_stream(chunk_delay)`: wait `chunk_delay` seconds before each SSE event after the first.

`server.latency` delays every request; `server.first_token_latency` delays the first SSE event of each stream;
`server.chunk_delay` is the wait before each later SSE event when no `slow_stream` step applies.

Observation (safe to read from the test's thread): `server.requests` (RecordedRequest: method, path, body, headers,
received_at), `server.completed_streams` (streams that reached `[DONE]`), `server.cancelled` (CancelEvent: the client
disconnected during a stream, a hang or a delay). Wait for them with `await server.wait_for_cancel(within)`,
`server.wait_for_cancel_sync(within)` or `await server.wait_for_requests(count, within)` (TimeoutError if not).
Timestamps come from `time.monotonic()`, which is comparable across threads. `reset()` forgets script and traffic.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import hashlib
import json
import math
import re
import struct
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Send

DEFAULT_DIM = 384
ECHO_MAX_WORDS = 64
DEFAULT_MODELS = ("gpt-4o-mini", "text-embedding-3-small")

# ---------------------------------------------------------------------------------------------------------------
# Script steps


@dataclass(frozen=True)
class Ok:
    text: str | None = None
    delay: float = 0.0


@dataclass(frozen=True)
class Status:
    code: int
    retry_after: float | str | None = None
    body: dict[str, Any] | str | None = None


@dataclass(frozen=True)
class Hang:
    pass


@dataclass(frozen=True)
class DropStream:
    after_chunks: int = 1


@dataclass(frozen=True)
class SlowStream:
    chunk_delay: float


Step = Ok | Status | Hang | DropStream | SlowStream


def ok(text: str | None = None, delay: float = 0.0) -> Ok:
    """Answer normally (after `delay` seconds), with `text` as the chat reply if given."""
    return Ok(text, delay)


def status(code: int, retry_after: float | str | None = None, body: dict[str, Any] | str | None = None) -> Status:
    """Answer with HTTP `code` and an OpenAI error body (or `body`), plus `Retry-After` if given."""
    return Status(code, retry_after, body)


def hang() -> Hang:
    """Never answer; the request ends when the client disconnects or the server stops."""
    return Hang()


def drop_stream(after_chunks: int = 1) -> DropStream:
    """Send `after_chunks` SSE events, then close the connection without `[DONE]`."""
    return DropStream(after_chunks)


def slow_stream(chunk_delay: float) -> SlowStream:
    """Wait `chunk_delay` seconds before each SSE event after the first."""
    return SlowStream(chunk_delay)


# ---------------------------------------------------------------------------------------------------------------
# Observation records


@dataclass(frozen=True)
class RecordedRequest:
    index: int
    method: str
    path: str
    body: Any
    headers: dict[str, str]
    received_at: float


@dataclass(frozen=True)
class CancelEvent:
    request: RecordedRequest
    kind: str  # "stream", "hang" or "delay"
    at: float
    chunks_sent: int = 0

    @property
    def after(self) -> float:
        """Seconds between receiving the request and noticing the disconnect."""
        return self.at - self.request.received_at


# ---------------------------------------------------------------------------------------------------------------
# Wire helpers

_ERROR_KINDS = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("invalid_request_error", "unsupported_country_region_territory"),
    404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"),
    503: ("server_error", "service_unavailable"),
}


def error_body(code: int, message: str | None = None) -> dict[str, Any]:
    kind, err_code = _ERROR_KINDS.get(code, ("server_error" if code >= 500 else "invalid_request_error", None))
    text = message or f"scripted error {code}"
    return {"error": {"message": text, "type": kind, "param": None, "code": err_code}}


def error_response(step: Status) -> Response:
    headers = {} if step.retry_after is None else {"retry-after": str(step.retry_after)}
    if isinstance(step.body, str):
        return Response(step.body, step.code, headers, media_type="application/json")
    return JSONResponse(step.body or error_body(step.code), step.code, headers)


def count_tokens(text: str) -> int:
    """Token count used in `usage`: whitespace-separated words."""
    return len(text.split())


def message_text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, list):
        return " ".join(part.get("text", "") for part in content if isinstance(part, dict))
    return content if isinstance(content, str) else ""


def echo_reply(messages: list[dict[str, Any]]) -> str:
    users = [message_text(m) for m in messages if m.get("role") == "user"]
    words = (users[-1] if users else "").split()
    return "Echo: " + " ".join(words[:ECHO_MAX_WORDS])


def wants_json(body: dict[str, Any]) -> bool:
    response_format = body.get("response_format") or {}
    return response_format.get("type") in ("json_object", "json_schema")


def split_deltas(text: str) -> list[str]:
    """Word-sized pieces whose concatenation is exactly `text`."""
    return re.findall(r"^\s+|\S+\s*", text)


def sse(payload: Any) -> bytes:
    return f"data: {json.dumps(payload)}\n\n".encode()


@functools.lru_cache(maxsize=4096)
def _word_vector(word: str, dim: int) -> tuple[float, ...]:
    raw = hashlib.shake_256(word.encode()).digest(2 * dim)
    return tuple(v / 32767.5 - 1.0 for v in struct.unpack(f"<{dim}H", raw))


def embed_text(text: str, dim: int = DEFAULT_DIM) -> list[float]:
    """Deterministic unit vector: the sum of hashed word vectors (the whole text if it has no words)."""
    words = re.findall(r"\w+", text.lower()) or [text]
    total = [0.0] * dim
    for word in words:
        total = [a + b for a, b in zip(total, _word_vector(word, dim), strict=True)]
    norm = math.sqrt(sum(v * v for v in total)) or 1.0
    return [v / norm for v in total]


def embedding_inputs(raw: Any) -> list[str]:
    """Strings as given; token arrays are embedded by their text form."""
    if isinstance(raw, str):
        return [raw]
    if isinstance(raw, list) and raw and all(isinstance(t, int) for t in raw):
        return [" ".join(map(str, raw))]
    if isinstance(raw, list) and raw:
        return [item if isinstance(item, str) else " ".join(map(str, item)) for item in raw]
    raise ValueError("'input' must be a non-empty string or array")


def encode_vector(vector: list[float], encoding_format: str) -> list[float] | str:
    if encoding_format == "base64":
        return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
    return vector


class CutStream(StreamingResponse):
    """Sends its body, then returns without the final message: uvicorn closes the connection mid-body."""

    async def stream_response(self, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        async for chunk in self.body_iterator:
            data = chunk if isinstance(chunk, bytes | memoryview) else chunk.encode(self.charset)
            await send({"type": "http.response.body", "body": data, "more_body": True})


async def _until_disconnect(request: Request) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        pass


class _Gone(Exception):
    """The client disconnected or the server is stopping; no answer will be read."""


# ---------------------------------------------------------------------------------------------------------------
# The server


class OpenAITestServer:
    def __init__(self, dim: int = DEFAULT_DIM, models: tuple[str, ...] = DEFAULT_MODELS) -> None:
        self.dim = dim
        self.models = list(models)
        self.reply: str | None = None
        self.json_reply = "{}"
        self.latency = 0.0
        self.first_token_latency = 0.0
        self.chunk_delay = 0.0
        self.requests: list[RecordedRequest] = []
        self.cancelled: list[CancelEvent] = []
        self.completed_streams = 0
        self._script: deque[tuple[str | None, Step]] = deque()
        self._lock = threading.Condition()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self.port = 0
        self.app = Starlette(routes=[
            Route("/v1/chat/completions", self._chat, methods=["POST"]),
            Route("/v1/embeddings", self._embeddings, methods=["POST"]),
            Route("/v1/models", self._models, methods=["GET"]),
        ], exception_handlers={404: _http_error, 405: _http_error})

    # -- configuration ------------------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def reply_with(self, text: str | None) -> None:
        """Answer every chat request with `text` (None: back to echoing)."""
        self.reply = text

    def reply_json(self, value: Any) -> None:
        """The reply for JSON-mode requests: a JSON text, or any value to serialise."""
        self.json_reply = value if isinstance(value, str) else json.dumps(value)

    def script(self, *steps: Step, endpoint: str | None = None) -> None:
        """Queue steps for the next requests to `endpoint` ("chat", "embeddings", None for any POST)."""
        with self._lock:
            self._script.extend((endpoint, step) for step in steps)

    def reset(self) -> None:
        """Forget the script, the recorded traffic and the reply settings."""
        with self._lock:
            self._script.clear()
            self.requests.clear()
            self.cancelled.clear()
            self.completed_streams = 0
        self.reply, self.json_reply, self.latency, self.first_token_latency = None, "{}", 0.0, 0.0
        self.chunk_delay = 0.0

    # -- observation --------------------------------------------------------------------------------------------

    def wait_for_cancel_sync(self, within: float = 1.0, count: int = 1) -> CancelEvent:
        """Block up to `within` seconds until `count` disconnects were recorded; returns the count-th one."""
        with self._lock:
            if not self._lock.wait_for(lambda: len(self.cancelled) >= count, within):
                raise TimeoutError(f"no client disconnect #{count} within {within}s (saw {len(self.cancelled)})")
            return self.cancelled[count - 1]

    async def wait_for_cancel(self, within: float = 1.0, count: int = 1) -> CancelEvent:
        """Async form of `wait_for_cancel_sync` (polls, so it never blocks the caller's loop)."""
        await self._poll(lambda: len(self.cancelled) >= count, within, f"client disconnect #{count}")
        return self.cancelled[count - 1]

    async def wait_for_requests(self, count: int = 1, within: float = 1.0) -> list[RecordedRequest]:
        """Wait up to `within` seconds until at least `count` requests arrived."""
        await self._poll(lambda: len(self.requests) >= count, within, f"{count} requests")
        return list(self.requests)

    @staticmethod
    async def _poll(condition: Callable[[], bool], within: float, what: str) -> None:
        deadline = time.monotonic() + within
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {what} within {within}s")
            await asyncio.sleep(0.005)

    # -- lifecycle ----------------------------------------------------------------------------------------------

    def start(self, timeout: float = 10.0) -> OpenAITestServer:
        if self._thread is not None:
            raise RuntimeError("the OpenAI test server is already running")
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=0, loop="asyncio", http="h11", lifespan="off",
            log_config=None, log_level=None, timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=asyncio.run, args=(self._serve(),), daemon=True, name="openai-test")
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the OpenAI test server did not start")
            time.sleep(0.002)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]
        return self

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        assert self._server is not None
        await self._server.serve()

    def stop(self) -> None:
        if self._server is None or self._thread is None:
            return
        if self._loop is not None and self._stop is not None:
            with contextlib.suppress(RuntimeError):  # the loop already ended
                self._loop.call_soon_threadsafe(self._stop.set)
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._server = self._thread = None

    def __enter__(self) -> OpenAITestServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- request plumbing ---------------------------------------------------------------------------------------

    async def _record(self, request: Request) -> RecordedRequest:
        raw = await request.body()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        with self._lock:
            record = RecordedRequest(
                len(self.requests), request.method, request.url.path, body, dict(request.headers), time.monotonic()
            )
            self.requests.append(record)
            self._lock.notify_all()
        return record

    def _take_step(self, endpoint: str) -> Step | None:
        with self._lock:
            for queued in self._script:
                if queued[0] in (None, endpoint):
                    self._script.remove(queued)
                    return queued[1]
        return None

    def _record_cancel(self, record: RecordedRequest, kind: str, chunks_sent: int = 0) -> None:
        with self._lock:
            self.cancelled.append(CancelEvent(record, kind, time.monotonic(), chunks_sent))
            self._lock.notify_all()

    async def _pause(self, request: Request, record: RecordedRequest, seconds: float, kind: str) -> None:
        """Waits `seconds` (inf: forever); raises _Gone if the client disconnects (recorded) or the server stops."""
        if seconds <= 0:
            return
        assert self._stop is not None
        gone = asyncio.ensure_future(_until_disconnect(request))
        stopping = asyncio.ensure_future(self._stop.wait())
        timeout = None if math.isinf(seconds) else seconds
        done, pending = await asyncio.wait({gone, stopping}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        if gone in done:
            self._record_cancel(record, kind)
        if done:
            raise _Gone

    async def _sleep(self, seconds: float) -> bool:
        """Sleeps inside a stream; True if the server is stopping."""
        assert self._stop is not None
        try:
            async with asyncio.timeout(max(seconds, 0.0)):
                await self._stop.wait()
        except TimeoutError:
            return False
        return True

    async def _handle(self, request: Request, endpoint: str, build: Callable[..., Response]) -> Response:
        record = await self._record(request)
        step = self._take_step(endpoint) if endpoint else None
        try:
            await self._pause(request, record, self.latency, "delay")
            if isinstance(step, Status):
                return error_response(step)
            if isinstance(step, Hang):
                await self._pause(request, record, math.inf, "hang")
            if isinstance(step, Ok):
                await self._pause(request, record, step.delay, "delay")
        except _Gone:
            return JSONResponse(error_body(503, "the server is stopping or the client left"), 503)
        if endpoint and not isinstance(record.body, dict):
            return JSONResponse(error_body(400, "the request body must be a JSON object"), 400)
        try:
            return build(record, step)
        except ValueError as exc:
            return JSONResponse(error_body(400, str(exc)), 400)

    # -- endpoints ----------------------------------------------------------------------------------------------

    async def _models(self, request: Request) -> Response:
        return await self._handle(request, "", self._build_models)

    async def _chat(self, request: Request) -> Response:
        return await self._handle(request, "chat", self._build_chat)

    async def _embeddings(self, request: Request) -> Response:
        return await self._handle(request, "embeddings", self._build_embeddings)

    def _build_models(self, record: RecordedRequest, step: Step | None) -> Response:
        data = [{"id": m, "object": "model", "created": 1700000000, "owned_by": "ragweave-tests"} for m in self.models]
        return JSONResponse({"object": "list", "data": data})

    def _build_embeddings(self, record: RecordedRequest, step: Step | None) -> Response:
        body = record.body
        texts = embedding_inputs(body.get("input"))
        dim = int(body.get("dimensions") or self.dim)
        fmt = body.get("encoding_format") or "float"
        if fmt not in ("float", "base64"):
            raise ValueError(f"unsupported encoding_format {fmt!r}")
        data = [
            {"object": "embedding", "index": i, "embedding": encode_vector(embed_text(text, dim), fmt)}
            for i, text in enumerate(texts)
        ]
        tokens = sum(count_tokens(t) for t in texts)
        payload = {"object": "list", "data": data, "model": body.get("model", ""),
                   "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}
        if isinstance(step, DropStream):
            return _cut_json(payload)
        return JSONResponse(payload)

    def _chat_text(self, body: dict[str, Any], step: Step | None) -> str:
        if isinstance(step, Ok) and step.text is not None:
            return step.text
        if wants_json(body):
            return self.json_reply
        if self.reply is not None:
            return self.reply
        return echo_reply(body["messages"])

    def _build_chat(self, record: RecordedRequest, step: Step | None) -> Response:
        body = record.body
        if not isinstance(body.get("messages"), list) or not body["messages"]:
            raise ValueError("'messages' must be a non-empty array")
        text = self._chat_text(body, step)
        prompt = sum(count_tokens(message_text(m)) for m in body["messages"])
        usage = {"prompt_tokens": prompt, "completion_tokens": count_tokens(text),
                 "total_tokens": prompt + count_tokens(text)}
        if body.get("stream"):
            return self._stream(record, text, usage, step)
        payload = {
            "id": f"chatcmpl-{record.index}", "object": "chat.completion", "created": int(time.time()),
            "model": body.get("model", ""), "system_fingerprint": None, "usage": usage,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text, "refusal": None},
                         "finish_reason": "stop", "logprobs": None}],
        }
        if isinstance(step, DropStream):
            return _cut_json(payload)
        return JSONResponse(payload)

    def _stream(self, record: RecordedRequest, text: str, usage: dict[str, int], step: Step | None) -> Response:
        events = stream_events(record, text, usage)
        headers = {"cache-control": "no-cache"}
        if isinstance(step, DropStream):
            gen = self._emit(record, events[: step.after_chunks], 0.0, complete=False)
            return CutStream(gen, media_type="text/event-stream", headers=headers)
        delay = step.chunk_delay if isinstance(step, SlowStream) else self.chunk_delay
        return StreamingResponse(self._emit(record, events, delay), media_type="text/event-stream", headers=headers)

    async def _emit(
        self, record: RecordedRequest, events: list[bytes], chunk_delay: float, complete: bool = True
    ) -> AsyncIterator[bytes]:
        sent = 0
        try:
            for event in events:
                if await self._sleep(self.first_token_latency if sent == 0 else chunk_delay):
                    return
                yield event
                sent += 1
        except (asyncio.CancelledError, GeneratorExit):
            self._record_cancel(record, "stream", sent)
            raise
        if complete:
            with self._lock:
                self.completed_streams += 1


def stream_events(record: RecordedRequest, text: str, usage: dict[str, int]) -> list[bytes]:
    """SSE events of a streamed completion: role, one per word, finish, optional usage, [DONE]."""
    body = record.body
    include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
    base = {"id": f"chatcmpl-{record.index}", "object": "chat.completion.chunk", "created": int(time.time()),
            "model": body.get("model", ""), "system_fingerprint": None}
    if include_usage:
        base["usage"] = None

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        return sse({**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}]})

    events = [chunk({"role": "assistant", "content": ""})]
    events += [chunk({"content": piece}) for piece in split_deltas(text)]
    events.append(chunk({}, "stop"))
    if include_usage:
        events.append(sse({**base, "choices": [], "usage": usage}))
    events.append(b"data: [DONE]\n\n")
    return events


async def _http_error(request: Request, exc: Exception) -> Response:
    """Unknown paths and methods, worded like OpenAI's own answer."""
    code = getattr(exc, "status_code", 500)
    body = error_body(code, f"Invalid URL ({request.method} {request.url.path})")
    body["error"]["code"] = None
    return JSONResponse(body, code)


def _cut_json(payload: dict[str, Any]) -> Response:
    raw = json.dumps(payload).encode()

    async def half() -> AsyncIterator[bytes]:
        yield raw[: len(raw) // 2]

    return CutStream(half(), media_type="application/json")
