"""Errors ragweave raises on purpose; each carries a stable GraphQL ``extensions.code``.

    AppError
    ├── BadUserInput            BAD_USER_INPUT      the request asked for something invalid
    ├── Unauthenticated         UNAUTHENTICATED
    ├── Forbidden               FORBIDDEN
    ├── NotConfigured           LLM_NOT_CONFIGURED  (code given per instance)
    ├── BadLLMOutput            BAD_LLM_OUTPUT      the model answered, but not validly
    └── BackendError            <BACKEND>_UNAVAILABLE / <BACKEND>_TIMEOUT
        ├── BackendUnavailable  the backend could not be reached or failed
        └── BackendTimeout      the backend did not answer within its deadline

graphql-core copies ``exception.extensions`` onto the GraphQLError, which is how the code reaches clients.
Anything that is not an AppError is masked as INTERNAL_SERVER_ERROR.
"""

from __future__ import annotations

from typing import Any


class AppError(Exception):
    code = "INTERNAL_SERVER_ERROR"

    def __init__(self, message: str, *, code: str | None = None, **extra: Any) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        self.extensions: dict[str, Any] = {"code": self.code, **extra}


class BadUserInput(AppError):
    code = "BAD_USER_INPUT"


class Unauthenticated(AppError):
    code = "UNAUTHENTICATED"


class Forbidden(AppError):
    code = "FORBIDDEN"


class NotConfigured(AppError):
    code = "LLM_NOT_CONFIGURED"


class BadLLMOutput(AppError):
    code = "BAD_LLM_OUTPUT"

    def __init__(self, message: str, *, answer: str = "") -> None:
        super().__init__(message)
        self.answer = answer  # kept for a repair round, never sent to clients


class BackendError(AppError):
    def __init__(self, backend: str, message: str, *, suffix: str, retryable: bool = True) -> None:
        super().__init__(message, code=f"{backend.upper()}_{suffix}", backend=backend, retryable=retryable)
        self.backend = backend
        self.retryable = retryable


class BackendUnavailable(BackendError):
    def __init__(self, backend: str, message: str, *, retryable: bool = True) -> None:
        super().__init__(backend, message, suffix="UNAVAILABLE", retryable=retryable)


class BackendTimeout(BackendError):
    def __init__(self, backend: str, message: str) -> None:
        super().__init__(backend, message, suffix="TIMEOUT")


def check_range(name: str, value: int, low: int, high: int) -> int:
    if not low <= value <= high:
        raise BadUserInput(f"`{name}` must be between {low} and {high}, got {value}", argument=name)
    return value
