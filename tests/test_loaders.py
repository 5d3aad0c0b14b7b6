"""The per-request DataLoader set: entities another loader answered are not looked up again, whether or not the
`entity` loader existed when they were answered; asking about no entity asks the backend nothing."""

from __future__ import annotations

import asyncio
import gc

from aiodataloader import DataLoader

from ragweave.datasources.calls import CallLog, current_call_log
from ragweave.loaders import Loaders, _BatchLoader, loaded_now, start_batch
from tests.corpus import seed_corpus


async def test_entities_answered_by_chunk_entities_need_no_lookup(datasources, tenant):
    await seed_corpus(datasources, tenant, size=6)
    collection = "chunks"
    for build_entity_loader_first in (False, True):
        loaders, log = Loaders(datasources, tenant), CallLog()
        token = current_call_log.set(log)
        try:
            if build_entity_loader_first:
                assert loaders.entity is not None
            [linked] = await loaders.chunk_entities.load_many([(collection, "doc-2#0")])
            assert linked and ("entity" in vars(loaders)) == build_entity_loader_first
            found = await loaders.entity.load_many([e.id for e in linked])
            assert [e.id for e in found] == [e.id for e in linked]
            assert "graph.entities_by_ids" not in log.calls, log.calls
            [missing] = await loaders.entity.load_many(["no-such-entity"])
            assert missing is None and log.calls["graph.entities_by_ids"] == 1  # the loader still asks for others
        finally:
            current_call_log.reset(token)
            loaders.close()


async def test_mentions_with_chunk_entities_of_no_entity_asks_nothing(datasources, tenant):
    loaders, log = Loaders(datasources, tenant), CallLog()
    token = current_call_log.set(log)
    try:
        assert await loaders.mentions_with_chunk_entities("chunks", []) == ([], {})
        assert not log.calls
    finally:
        current_call_log.reset(token)
        loaders.close()


async def test_batch_loaders_are_built_as_aiodataloader_builds_a_default_loader():
    """`_BatchLoader` skips DataLoader's constructor: it must leave the state that constructor leaves, so an
    aiodataloader release that adds some fails here, not in a request."""
    batches: list[list[int]] = []

    async def double(keys: list[int]) -> list[int]:
        batches.append(keys)
        return [2 * k for k in keys]

    ours, theirs = _BatchLoader(double), DataLoader(double)
    assert set(vars(ours)) - {"name"} == set(vars(theirs)) - {"get_cache_key"}
    assert {k: v for k, v in vars(ours).items() if k not in ("loop", "name")} == {
        k: v for k, v in vars(theirs).items() if k not in ("loop", "get_cache_key")}
    assert ours.loop is theirs.loop and ours.get_cache_key("k") == "k"
    assert await ours.load_many([1, 2, 1]) == [2, 4, 2] and batches == [[1, 2]]
    assert await ours.load(2) == 4 and batches == [[1, 2]]


async def test_batches_take_the_keys_aiodataloader_batches_take():
    """`_BatchLoader` dispatches without aiodataloader's two Tasks: keys loaded one, two, three... loop iterations
    after a batch's first key join the same batches as with aiodataloader's DataLoader."""

    async def batches_of(build) -> list[list[str]]:
        batches: list[list[str]] = []

        async def echo(keys: list[str]) -> list[str]:
            batches.append(list(keys))
            return keys

        loader = build(echo)

        async def after(iterations: int, key: str) -> str:
            for _ in range(iterations):
                await asyncio.sleep(0)
            return await loader.load(key)

        first = loader.load("now")
        loop = asyncio.get_running_loop()
        soon = loop.create_future()
        loop.call_soon(lambda: soon.set_result(loader.load("callback")))
        answers = await asyncio.gather(*(after(i, f"{i}.{n}") for i in range(7) for n in range(2)))
        assert answers == [f"{i}.{n}" for i in range(7) for n in range(2)]
        assert await first == "now" and await (await soon) == "callback"
        return batches

    ours, theirs = await batches_of(_BatchLoader), await batches_of(DataLoader)
    assert ours == theirs and len(ours) >= 3, (ours, theirs)


async def test_load_many_answers_in_key_order_from_one_batch_and_raises_its_failure():
    """`load_many` awaits the loads in key order (no gather): one batch, the answers in key order, the batch's
    failure raised."""
    batches: list[list[int]] = []

    async def tens(keys: list[int]) -> list[int]:
        batches.append(keys)
        await asyncio.sleep(0)
        if 13 in keys:
            raise ValueError("unlucky")
        return [k * 10 for k in keys]

    loader = _BatchLoader(tens)
    first, second = await asyncio.gather(loader.load_many([1, 2]), loader.load_many([2, 1, 3]))
    assert (first, second, batches) == ([10, 20], [20, 10, 30], [[1, 2, 3]])
    loop, reported = asyncio.get_running_loop(), []
    loop.set_exception_handler(lambda _, context: reported.append(context["message"]))
    try:
        await _BatchLoader(tens).load_many([12, 13])
    except ValueError as error:
        assert str(error) == "unlucky"
    else:
        raise AssertionError("the batch's failure was not raised")
    finally:
        await asyncio.sleep(0)
        gc.collect()  # a failed future nobody retrieved is reported when it is collected
        loop.set_exception_handler(None)
    assert reported == []  # the second key's failure was retrieved, as gather retrieves it


async def test_a_batch_settles_its_keys_as_aiodataloader_settles_them():
    """Values, an exception as a value (that key fails), a list of another length or a failure (every key fails,
    nothing is cached): the same outcome for each key as aiodataloader's DataLoader, and the same calls."""

    async def outcomes(build) -> tuple[list[object], list[list[str]]]:
        calls: list[list[str]] = []

        async def batch(keys: list[str]) -> list[object]:
            calls.append(list(keys))
            if "boom" in keys:
                raise RuntimeError("boom")
            if "short" in keys:
                return keys[1:]
            return [KeyError(key) if key.startswith("missing") else key.upper() for key in keys]

        loader, answers = build(batch), []
        for keys in (["a", "missing-b", "c"], ["boom", "d"], ["short", "e"], ["boom", "missing-b"]):
            for result in await asyncio.gather(*(loader.load(key) for key in keys), return_exceptions=True):
                answers.append(type(result).__name__ if isinstance(result, Exception) else result)
        return answers, calls

    ours, theirs = await outcomes(_BatchLoader), await outcomes(DataLoader)
    assert ours == theirs, (ours, theirs)
    assert ours[0][:3] == ["A", "KeyError", "C"] and ours[0][3:7] == ["RuntimeError"] * 2 + ["TypeError"] * 2


async def test_start_batch_sends_the_batch_before_the_caller_goes_on():
    """`start_batch` has the batch function called (the query sent) by the time it returns, for the keys not
    loaded already; the resolvers that ask for those keys later get the same futures, with no second batch; keys
    loaded after it batch as usual; failures nobody awaited are not reported as never retrieved."""
    batches: list[list[str]] = []

    async def upper(keys: list[str]) -> list[str]:
        batches.append(list(keys))
        await asyncio.sleep(0)
        if "boom" in keys:
            raise RuntimeError("boom")
        return [k.upper() for k in keys]

    for build in (_BatchLoader, lambda fn: DataLoader(fn, batch=False, cache=False)):  # perf's noloaders
        batches.clear()
        loader = build(upper)
        await start_batch(loader, ["a", "b", "a"])
        assert batches in ([["a", "b"]], [["a"], ["b"], ["a"]]), batches
        started = len(batches)
        assert await loader.load_many(["b", "c", "d"]) == ["B", "C", "D"]
        if loader.cache:
            assert batches == [["a", "b"], ["c", "d"]], batches
        await start_batch(loader, [])
        assert len(batches) >= started
    loop, reported = asyncio.get_running_loop(), []
    loop.set_exception_handler(lambda _, context: reported.append(context["message"]))
    try:
        await start_batch(_BatchLoader(upper), ["boom"])
        for _ in range(3):
            await asyncio.sleep(0)
    finally:
        gc.collect()
        loop.set_exception_handler(None)
    assert reported == []


async def test_loaded_now_runs_the_batch_in_the_callers_step():
    """`loaded_now` answers in key order from one batch of the keys not asked for before (duplicates once), run at
    once: with a batch function that does not suspend, the caller's coroutine finishes in its first step, where
    `load_many` waits loop iterations for more keys. Keys cached or already queued are not fetched again; a failure
    fails every key of the batch and is raised, and is not cached; perf's unbatched loaders still answer."""
    batches: list[list[str]] = []

    async def upper(keys: list[str]) -> list[str]:
        batches.append(list(keys))
        if "boom" in keys:
            raise RuntimeError("boom")
        return [k.upper() for k in keys]

    loader = _BatchLoader(upper)
    step = loaded_now(loader, ["a", "b", "a"])
    try:
        step.send(None)
    except StopIteration as finished:
        assert finished.value == ["A", "B", "A"]
    else:
        raise AssertionError("loaded_now suspended before its batch ran")
    assert batches == [["a", "b"]]
    queued = loader.load("c")  # asked by someone else, not yet dispatched: its batch answers it, not this one
    assert await loaded_now(loader, ["b", "d"]) == ["B", "D"] and await queued == "C"
    assert batches == [["a", "b"], ["d"], ["c"]], batches
    for _ in range(2):  # not cached: asked again, the keys are fetched again
        try:
            await loaded_now(loader, ["e", "boom"])
        except RuntimeError:
            pass
        else:
            raise AssertionError("the batch's failure was not raised")
    assert batches[3:] == [["e", "boom"]] * 2
    assert await loaded_now(DataLoader(upper, batch=False, cache=False), ["x", "y"]) == ["X", "Y"]


async def test_a_cancelled_loaded_now_leaves_no_key_pending():
    """Cancelled while its batch runs, `loaded_now` cancels the keys' futures: a later load of them fetches them
    again instead of waiting for an answer that never comes."""
    started, batches = asyncio.Event(), []

    async def slow(keys: list[str]) -> list[str]:
        batches.append(list(keys))
        started.set()
        await asyncio.sleep(3600 if len(batches) == 1 else 0)
        return [k.upper() for k in keys]

    loader = _BatchLoader(slow)
    task = asyncio.create_task(loaded_now(loader, ["a"]))
    await started.wait()
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    assert await asyncio.wait_for(loaded_now(loader, ["a"]), 5) == ["A"]
    assert batches == [["a"], ["a"]]
