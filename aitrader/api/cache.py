"""Serialised read responses, dropped or marked stale by the events that change them.

GET /simulate/status of a large job and GET /results are polled (Windmill, dashboards) far more
often than they change. The cache keeps the serialised body per request key, in a scope (a
job, or the results):

- job events (`job.*`: created, status, finished) *drop* that job's bodies and the results: a
  job's status change is never answered from before it happened;
- the frequent model-day events (started, tool calls, finished) only mark bodies *stale*. A
  stale body younger than `COALESCE` seconds is served as it is; up to `MAX_STALE` seconds
  old it is still served while one rebuild runs in the background (stale-while-revalidate);
  older, the caller waits for the rebuild. So a busy service rebuilds a job's status a few
  times a second and no request waits for it, and an occasional poll never gets a body more
  than `MAX_STALE` seconds behind.

Builds for the same key share one task (no thundering herd on a miss). A build that an event
overtakes is not stored as fresh: a drop discards it, a stale mark stores it as stale.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from aiohttp import web

from aitrader.errors import AITraderError
from aitrader.events import Event

log = structlog.get_logger(__name__)

MAX_ENTRIES = 512
COALESCE = 0.25  # seconds before a stale body is rebuilt
MAX_STALE = 1.0  # seconds a stale body may be served while it is rebuilt

Key = tuple[str, str]  # (scope, request key)


class ReadCache:
    def __init__(self, coalesce: float = COALESCE, max_stale: float = MAX_STALE) -> None:
        self._coalesce = coalesce
        self._max_stale = max_stale
        self._clock = 0  # counts invalidations; a body remembers the clock its build began at
        self._bodies: dict[Key, tuple[bytes, float, int]] = {}  # body, built at, clock
        self._changed: dict[str, int] = {}  # scope -> clock of its last stale mark
        self._dropped: dict[str, int] = {}  # scope -> clock of its last drop
        self._builds: dict[Key, asyncio.Task[bytes]] = {}

    def invalidate(self, event: Event) -> None:
        self._clock += 1
        job = [f"job:{event.job_id}"] if event.job_id else []
        if event.type.startswith("job."):
            for scope in [*job, "results"]:
                self._dropped[scope] = self._clock
        for scope in job if event.type != "model_day.finished" else [*job, "results"]:
            self._changed[scope] = self._clock

    async def get(self, scope: str, key: str,
                  build: Callable[[], Awaitable[Any]]) -> web.Response:
        k = (scope, key)
        entry = self._bodies.get(k)
        if entry is not None and entry[2] <= self._dropped.get(scope, 0):
            del self._bodies[k]
            entry = None
        if entry is None:
            body = await asyncio.shield(self._build(k, build))
        else:
            body, built, clock = entry
            age = asyncio.get_running_loop().time() - built
            if clock <= self._changed.get(scope, 0) and age >= self._coalesce:  # stale
                task = self._build(k, build)
                if age >= self._max_stale:
                    body = await asyncio.shield(task)
        return web.Response(body=body, content_type="application/json")

    def _build(self, k: Key, build: Callable[[], Awaitable[Any]]) -> asyncio.Task[bytes]:
        task = self._builds.get(k)
        if task is None:
            task = self._builds[k] = asyncio.create_task(self._run(k, build))
            task.add_done_callback(_quiet)
        return task

    async def _run(self, k: Key, build: Callable[[], Awaitable[Any]]) -> bytes:
        loop = asyncio.get_running_loop()
        self._clock += 1
        clock, started = self._clock, loop.time()
        try:
            built = await build()  # a document, or an already serialised body
        except AITraderError:
            self._bodies.pop(k, None)  # what it says now is an error: the next caller sees it
            raise
        finally:
            del self._builds[k]
        body = built if isinstance(built, bytes) else web.json_response(built).body
        assert isinstance(body, bytes)
        scope = k[0]
        if self._dropped.get(scope, 0) < clock:  # not overtaken by a drop: keep it
            if len(self._bodies) >= MAX_ENTRIES and k not in self._bodies:
                self._bodies.pop(next(iter(self._bodies)))
            # a stale mark after `clock` leaves it stale, as it should be
            self._bodies[k] = (body, started, clock)
        return body

    async def close(self) -> None:
        """Cancel and await the rebuilds still running (the app's shutdown)."""
        tasks = list(self._builds.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _quiet(task: asyncio.Task[bytes]) -> None:
    """A background rebuild that fails is dropped: the next caller rebuilds and sees why."""
    with contextlib.suppress(asyncio.CancelledError):
        exc = task.exception()
        if exc is not None and not isinstance(exc, AITraderError):
            log.warning("cache_rebuild_failed", error=repr(exc))
