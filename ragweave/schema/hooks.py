"""Strawberry's schema-extension hooks, run without building context managers on every operation.

Strawberry's runner wraps, for each stage of each operation, every extension's hook in a contextlib context
manager inside an (Async)ExitStack, after inspecting the hook's function. Here the inspection is done once per
extension class and the hooks' generators are driven directly, with the same order and the same exception
semantics: entered in list order, exited in reverse, the exception of the block thrown into each hook; a hook that
suppresses it hides it from the hooks exited after it but, as in Strawberry, the block's exception still
propagates; a hook that raises replaces it; a hook that raises on entry leaves the ones entered before it unexited.
`on_stream_result` (once per subscription event) is Strawberry's own when an extension implements it, and nothing
to enter when none does.
"""

from __future__ import annotations

import inspect
import sys
from asyncio import iscoroutinefunction
from collections.abc import Callable
from contextlib import nullcontext
from enum import Enum
from functools import cache
from typing import Any

import strawberry
from strawberry.extensions import SchemaExtension
from strawberry.extensions.runner import SchemaExtensionsRunner
from strawberry.types import ExecutionContext
from strawberry.types.graphql import OperationType
from strawberry.utils.await_maybe import await_maybe


class _Kind(Enum):
    GENERATOR = "generator"
    ASYNC_GENERATOR = "async generator"
    FUNCTION = "function"
    COROUTINE = "coroutine"


@cache
def _hook(cls: type[SchemaExtension], name: str) -> tuple[Callable[..., Any], _Kind] | None:
    function = getattr(cls, name)
    if function is getattr(SchemaExtension, name):
        return None
    if inspect.isgeneratorfunction(function):
        return function, _Kind.GENERATOR
    if inspect.isasyncgenfunction(function):
        return function, _Kind.ASYNC_GENERATOR
    if not callable(function):
        raise ValueError(f"Hook {name} on {cls} must be callable, received {function!r}")
    return function, _Kind.COROUTINE if iscoroutinefunction(function) else _Kind.FUNCTION


STAGES = ("on_operation", "on_parse", "on_validate", "on_execute", "on_stream_result")


@cache
def _plan(classes: tuple[type[SchemaExtension], ...]) -> dict[str, tuple[tuple[int, Callable[..., Any], _Kind], ...]]:
    """Per stage, the (position, hook, kind) of the extensions that implement it; one schema has one list of
    extension classes, so this is computed once."""
    return {name: tuple((i, *hook) for i, cls in enumerate(classes) if (hook := _hook(cls, name)) is not None)
            for name in STAGES}


@cache
def _reporters(classes: tuple[type[SchemaExtension], ...]) -> tuple[int, ...]:
    """The positions of the extensions that report results (the others return {})."""
    return tuple(i for i, cls in enumerate(classes) if cls.get_results is not SchemaExtension.get_results)


class _Stage:
    __slots__ = ("entered", "hooks", "name")

    def __init__(self, extensions: list[SchemaExtension], name: str,
                 plan: tuple[tuple[int, Callable[..., Any], _Kind], ...]) -> None:
        self.name = name
        self.hooks = [(extensions[i], function, kind) for i, function, kind in plan]
        self.entered: list[tuple[Any, _Kind]] = []

    async def __aenter__(self) -> None:
        for extension, function, kind in self.hooks:
            if kind is _Kind.GENERATOR:
                generator = function(extension)
                _enter(generator)
                self.entered.append((generator, kind))
            elif kind is _Kind.ASYNC_GENERATOR:
                generator = function(extension)
                try:
                    await generator.__anext__()
                except StopAsyncIteration:
                    raise RuntimeError("generator didn't yield") from None
                self.entered.append((generator, kind))
            elif kind is _Kind.COROUTINE:
                await function(extension)
            else:
                function(extension)

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> bool:
        frame_exc, current, pending = sys.exception(), exc, None
        while self.entered:
            generator, kind = self.entered.pop()
            try:
                if kind is _Kind.GENERATOR:
                    done = _exit(generator, current)
                else:
                    done = await _exit_async(generator, current)
                if done:
                    current = pending = None
            except BaseException as raised:
                _fix_context(raised, current, frame_exc)
                current = pending = raised
        if pending is not None:
            _raise(pending)
        return False

    def __enter__(self) -> None:
        for extension, function, kind in self.hooks:
            if kind in (_Kind.ASYNC_GENERATOR, _Kind.COROUTINE):
                raise RuntimeError(f"SchemaExtension hook {extension}.{self.name} failed to complete synchronously.")
            if kind is _Kind.GENERATOR:
                generator = function(extension)
                _enter(generator)
                self.entered.append((generator, kind))
            else:
                function(extension)

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> bool:
        frame_exc, current, pending = sys.exception(), exc, None
        while self.entered:
            generator, _ = self.entered.pop()
            try:
                if _exit(generator, current):
                    current = pending = None
            except BaseException as raised:
                _fix_context(raised, current, frame_exc)
                current = pending = raised
        if pending is not None:
            _raise(pending)
        return False


def _fix_context(new: BaseException, old: BaseException | None, frame_exc: BaseException | None) -> None:
    """ExitStack's: chain `new` to the exception the previous hook left, not to the one being handled."""
    while True:
        context = new.__context__
        if context is None or context is old:
            return
        if context is frame_exc:
            break
        new = context
    new.__context__ = old


def _raise(exc: BaseException) -> None:
    context = exc.__context__
    try:
        raise exc
    except BaseException:
        exc.__context__ = context  # a bare raise here would chain it to the exception being handled
        raise


def _enter(generator: Any) -> None:
    try:
        next(generator)
    except StopIteration:
        raise RuntimeError("generator didn't yield") from None


def _exit(generator: Any, exc: BaseException | None) -> bool:
    """contextlib's `_GeneratorContextManager.__exit__`: True when the hook suppressed `exc`."""
    if exc is None:
        try:
            next(generator)
        except StopIteration:
            return False
        raise RuntimeError("generator didn't stop")
    try:
        generator.throw(exc)
    except StopIteration as stop:
        return stop is not exc
    except RuntimeError as raised:
        if raised is exc or (isinstance(exc, StopIteration) and raised.__cause__ is exc):
            return False
        raise
    except BaseException as raised:
        if raised is not exc:
            raise
        return False
    raise RuntimeError("generator didn't stop after throw()")


async def _exit_async(generator: Any, exc: BaseException | None) -> bool:
    if exc is None:
        try:
            await generator.__anext__()
        except StopAsyncIteration:
            return False
        raise RuntimeError("generator didn't stop")
    try:
        await generator.athrow(exc)
    except StopAsyncIteration as stop:
        return stop is not exc
    except RuntimeError as raised:
        if raised is exc or (isinstance(exc, (StopIteration, StopAsyncIteration)) and raised.__cause__ is exc):
            return False
        raise
    except BaseException as raised:
        if raised is not exc:
            raise
        return False
    raise RuntimeError("generator didn't stop after athrow()")


_NO_HOOKS = nullcontext()  # entered with `async with`, as Strawberry's empty AsyncExitStack was


class HooksRunner(SchemaExtensionsRunner):
    def __init__(self, execution_context: ExecutionContext, extensions: list[SchemaExtension] | None = None) -> None:
        super().__init__(execution_context, extensions)
        self._classes = tuple(type(e) for e in self.extensions)
        self._plan = _plan(self._classes)

    def _stage(self, name: str) -> _Stage:
        return _Stage(self.extensions, name, self._plan[name])

    def operation(self) -> Any:
        return self._stage("on_operation")

    def parsing(self) -> Any:
        return self._stage("on_parse")

    def validation(self) -> Any:
        return self._stage("on_validate")

    def executing(self) -> Any:
        return self._stage("on_execute")

    def on_stream_result(self, result: Any) -> Any:
        return super().on_stream_result(result) if self._plan["on_stream_result"] else _NO_HOOKS

    async def get_extensions_results(self, ctx: ExecutionContext) -> dict[str, Any]:
        """Strawberry's, asking only the extensions that report anything (the others return {})."""
        data: dict[str, Any] = {}
        extensions = self.extensions
        for i in _reporters(self._classes):
            data.update(await await_maybe(extensions[i].get_results()))
        data.update(ctx.extensions_results)
        return data


class _ExecutionContext(ExecutionContext):
    """Strawberry's, with the operation's type found once per document: the view, the extensions and the
    telemetry each ask for it, and each answer walks the document's definitions again."""

    _typed: tuple[object, OperationType] | None = None

    @property
    def operation_type(self) -> OperationType:
        document, typed = self.graphql_document, self._typed
        if typed is not None and typed[0] is document:
            return typed[1]
        found = super().operation_type
        self._typed = (document, found)
        return found


class HooksSchema(strawberry.Schema):
    """A Strawberry schema whose extension hooks run through `HooksRunner`."""

    def _create_execution_context(
        self, query: str | None, allowed_operation_types: Any, variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None, root_value: Any | None = None, operation_name: str | None = None,
        operation_extensions: dict[str, Any] | None = None,
    ) -> ExecutionContext:
        return _ExecutionContext(
            query=query, schema=self, allowed_operations=allowed_operation_types, context=context_value,
            root_value=root_value, variables=variable_values, provided_operation_name=operation_name,
            operation_extensions=operation_extensions,
        )

    def create_extensions_runner(
        self, execution_context: ExecutionContext, extensions: list[SchemaExtension]
    ) -> SchemaExtensionsRunner:
        return HooksRunner(execution_context=execution_context, extensions=extensions)
