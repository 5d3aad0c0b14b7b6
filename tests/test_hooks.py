"""HooksRunner behaves like Strawberry's SchemaExtensionsRunner: same order, same exceptions, same suppression."""

from __future__ import annotations

import itertools

import pytest
from strawberry.extensions import SchemaExtension
from strawberry.extensions.context import StreamResultContextManager
from strawberry.extensions.runner import SchemaExtensionsRunner

from ragweave.schema.hooks import HooksRunner


class Boom(Exception):
    pass


def extension(name: str, behaviour: str, log: list[str]) -> SchemaExtension:
    """One hook of each kind Strawberry accepts, behaving as `behaviour` says on entry or exit."""

    def generator(self):
        log.append(f"{name} enter")
        if behaviour == "raise on enter":
            raise Boom(f"{name} enter")
        try:
            yield
        except Boom as exc:
            log.append(f"{name} saw {exc}")
            if behaviour != "suppress":
                raise
        if behaviour == "raise on exit":
            raise Boom(f"{name} exit")
        log.append(f"{name} exit")

    async def async_generator(self):
        log.append(f"{name} enter")
        if behaviour == "raise on enter":
            raise Boom(f"{name} enter")
        try:
            yield
        except Boom as exc:
            log.append(f"{name} saw {exc}")
            if behaviour != "suppress":
                raise
        if behaviour == "raise on exit":
            raise Boom(f"{name} exit")
        log.append(f"{name} exit")

    def function(self):
        log.append(f"{name} called")
        if behaviour == "raise on enter":
            raise Boom(f"{name} enter")

    async def coroutine(self):
        function(self)

    hooks = {"generator": generator, "async generator": async_generator, "function": function,
             "coroutine": coroutine}
    kind = name.split(":")[0]
    return type(name, (SchemaExtension,), {"on_operation": hooks[kind]})()


BEHAVIOURS = ["plain", "raise on enter", "raise on exit", "suppress"]
KINDS = ["generator", "async generator", "function", "coroutine"]


async def outcome(runner_class: type, specs: list[tuple[str, str]], block_raises: bool) -> tuple:
    log: list[str] = []
    extensions = [extension(f"{kind}:{i}", behaviour, log) for i, (kind, behaviour) in enumerate(specs)]
    runner = runner_class(execution_context=None, extensions=extensions)
    try:
        async with runner.operation():
            log.append("block")
            if block_raises:
                raise Boom("block")
        result = "completed"
    except Boom as exc:
        result = f"raised {exc} (context: {exc.__context__})"
    return result, log


@pytest.mark.parametrize("block_raises", [False, True])
async def test_same_outcome_as_strawberry(block_raises):
    specs = list(itertools.product(KINDS, BEHAVIOURS))
    for first, second in itertools.product(specs, repeat=2):
        expected = await outcome(SchemaExtensionsRunner, [first, second], block_raises)
        assert await outcome(HooksRunner, [first, second], block_raises) == expected, (first, second)


def test_sync_stage_refuses_async_hooks_like_strawberry():
    log: list[str] = []
    for runner_class in (SchemaExtensionsRunner, HooksRunner):
        runner = runner_class(execution_context=None, extensions=[extension("coroutine:0", "plain", log)])
        with pytest.raises(RuntimeError, match="failed to complete synchronously"), runner.operation():
            pass


def stream_result_extension(kind: str, log: list[str]) -> SchemaExtension:
    def generator(self, result):
        log.append(f"{kind} enter {result}")
        yield
        log.append(f"{kind} exit {result}")

    async def async_generator(self, result):
        log.append(f"{kind} enter {result}")
        yield
        log.append(f"{kind} exit {result}")

    def function(self, result):
        log.append(f"{kind} called {result}")

    async def coroutine(self, result):
        function(self, result)

    hooks = {"generator": generator, "async generator": async_generator, "function": function,
             "coroutine": coroutine}
    return type(kind, (SchemaExtension,), {"on_stream_result": hooks[kind]})()


@pytest.mark.parametrize("kinds", [[], *([kind] for kind in KINDS), KINDS])
async def test_stream_result_hooks_run_as_in_strawberry(kinds):
    logs = {}
    for runner_class in (SchemaExtensionsRunner, HooksRunner):
        log = logs[runner_class] = []
        others = [extension("generator:x", "plain", log)]  # hooks other stages only: not entered here
        runner = runner_class(execution_context=None,
                              extensions=others + [stream_result_extension(kind, log) for kind in kinds])
        for event in ("e1", "e2"):
            async with runner.on_stream_result(event):
                log.append(f"block {event}")
    assert logs[HooksRunner] == logs[SchemaExtensionsRunner]
    assert len(logs[HooksRunner]) == 2 * (1 + sum(2 if "generator" in kind else 1 for kind in kinds))
    if not kinds:  # once per subscription event: no context manager built when no extension has the hook
        assert not isinstance(runner.on_stream_result("e3"), StreamResultContextManager)


async def test_extension_results_are_strawberrys():
    class Sync(SchemaExtension):
        def get_results(self):
            return {"sync": 1}

    class Async(SchemaExtension):
        async def get_results(self):
            return {"async": 2}

    class Silent(SchemaExtension):
        pass

    class Context:
        extensions_results = {"context": 3}

    extensions = [Silent(), Sync(), Silent(), Async()]
    expected = await SchemaExtensionsRunner(None, extensions).get_extensions_results(Context())
    assert await HooksRunner(None, extensions).get_extensions_results(Context()) == expected
    assert expected == {"sync": 1, "async": 2, "context": 3}
