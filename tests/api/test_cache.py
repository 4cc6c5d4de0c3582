"""The read cache: stale-while-revalidate, one build per key, and no stale body kept as fresh."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from aitrader.api.cache import ReadCache
from aitrader.errors import NotFound
from aitrader.events import Event


def event(type: str, job_id: str | None = "j1") -> Event:
    return Event(1, type, "2025-10-01T00:00:00Z", job_id)


class Source:
    """A build function that counts its calls and can be held open."""

    def __init__(self) -> None:
        self.value = 0
        self.calls = 0
        self.gate: asyncio.Event | None = None

    async def __call__(self) -> dict[str, int]:
        self.calls += 1
        seen = self.value
        if self.gate is not None:
            await self.gate.wait()
        return {"v": seen}


async def settle(cond: Callable[[], bool]) -> None:
    """Let the loop run until `cond` holds (a condition, not a guess at a duration)."""
    async with asyncio.timeout(5):
        while not cond():  # noqa: ASYNC110  (the cache's state has no event to wait on)
            await asyncio.sleep(0)


async def body(cache: ReadCache, src: Source, scope: str = "job:j1") -> bytes:
    resp = await cache.get(scope, "status", src)
    assert resp.body is not None
    return bytes(resp.body)  # type: ignore[arg-type]


async def test_concurrent_misses_share_one_build() -> None:
    cache, src = ReadCache(), Source()
    src.gate = asyncio.Event()
    waiting = [asyncio.ensure_future(body(cache, src)) for _ in range(20)]
    await settle(lambda: src.calls == 1)  # the build has begun and waits at the gate
    for _ in range(3):  # and every caller has had its turn to join it
        await asyncio.sleep(0)
    assert src.calls == 1 and not any(w.done() for w in waiting)
    src.gate.set()
    assert set(await asyncio.gather(*waiting)) == {b'{"v": 0}'}
    assert src.calls == 1
    await cache.close()


async def test_stale_body_is_served_while_one_rebuild_runs() -> None:
    cache, src = ReadCache(coalesce=0.0, max_stale=60.0), Source()
    assert await body(cache, src) == b'{"v": 0}'
    src.value, src.gate = 1, asyncio.Event()
    cache.invalidate(event("model_day.tool_call"))
    # stale: every caller gets the old body at once; one rebuild starts behind them
    assert [await body(cache, src) for _ in range(5)] == [b'{"v": 0}'] * 5
    await settle(lambda: src.calls == 2)  # one rebuild, behind them
    src.gate.set()
    await settle(lambda: not cache._builds)
    assert await body(cache, src) == b'{"v": 1}'
    assert src.calls == 2  # the rebuilt body is fresh: no further build
    await cache.close()


async def test_a_body_too_old_to_serve_stale_waits_for_the_rebuild() -> None:
    cache, src = ReadCache(coalesce=0.0, max_stale=0.0), Source()
    await body(cache, src)
    src.value = 1
    cache.invalidate(event("model_day.tool_call"))
    assert await body(cache, src) == b'{"v": 1}'
    await cache.close()


async def test_stale_body_younger_than_coalesce_is_not_rebuilt() -> None:
    cache, src = ReadCache(coalesce=60.0), Source()
    await body(cache, src)
    cache.invalidate(event("model_day.tool_call"))
    await body(cache, src)
    assert src.calls == 1
    await cache.close()


async def test_job_event_drops_the_body() -> None:
    cache, src = ReadCache(coalesce=60.0), Source()
    await body(cache, src)
    src.value = 1
    cache.invalidate(event("job.finished"))
    assert await body(cache, src) == b'{"v": 1}'  # never the body from before the change
    cache.invalidate(event("job.status", job_id="other"))
    assert await body(cache, src) == b'{"v": 1}' and src.calls == 2
    await cache.close()


async def test_a_build_overtaken_by_a_drop_is_not_kept() -> None:
    cache, src = ReadCache(coalesce=60.0), Source()
    src.gate = asyncio.Event()
    first = asyncio.ensure_future(body(cache, src))
    await settle(lambda: src.calls == 1)
    src.value = 1
    cache.invalidate(event("job.status"))  # lands while the build still reads the old state
    src.gate.set()
    assert await first == b'{"v": 0}'  # asked before the change: may see before it
    assert await body(cache, src) == b'{"v": 1}'  # but it was not stored
    await cache.close()


async def test_a_build_overtaken_by_a_stale_mark_is_kept_stale() -> None:
    cache, src = ReadCache(coalesce=0.0, max_stale=60.0), Source()
    src.gate = asyncio.Event()
    first = asyncio.ensure_future(body(cache, src))
    await settle(lambda: src.calls == 1)
    src.value = 1
    cache.invalidate(event("model_day.finished"))
    src.gate.set()
    await first
    src.gate = None
    await body(cache, src)  # stale: served, and rebuilt behind
    await settle(lambda: src.calls == 2 and not cache._builds)
    assert await body(cache, src) == b'{"v": 1}'
    await cache.close()


async def test_results_scope_follows_finished_model_days_not_tool_calls() -> None:
    cache, src = ReadCache(coalesce=0.0, max_stale=60.0), Source()
    await body(cache, src, "results")
    cache.invalidate(event("model_day.tool_call"))
    await body(cache, src, "results")
    assert src.calls == 1
    cache.invalidate(event("model_day.finished"))
    await body(cache, src, "results")
    await settle(lambda: src.calls == 2)
    await cache.close()


async def test_errors_reach_the_caller_and_are_not_cached() -> None:
    cache = ReadCache()
    calls = 0

    async def missing() -> bytes:
        nonlocal calls
        calls += 1
        raise NotFound("no such job")

    for _ in range(2):
        with pytest.raises(NotFound):
            await cache.get("job:x", "status", missing)
    assert calls == 2
    await cache.close()
