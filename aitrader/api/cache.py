"""Serialised read responses, dropped by the events that change them.

GET /simulate/status of a large job and GET /results are polled (Windmill, dashboards) far more
often than they change. The cache keeps the serialised body per request key. Job events
(`job.*`: created, status, finished) drop that job's entries at once; the frequent model-day
events (started, tool calls, finished) only mark them stale, and a stale body younger than
`COALESCE` seconds is still served: during a busy simulation a job's status is rebuilt at most
a few times a second instead of on every tool call. A finished model-day marks the results
stale the same way; a finished job drops them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from aitrader.events import Event

MAX_ENTRIES = 512
COALESCE = 0.25  # seconds a stale body may still be served


class ReadCache:
    def __init__(self, coalesce: float = COALESCE) -> None:
        # key -> (body, built at, stale)
        self._bodies: dict[tuple[str, str], tuple[bytes, float, bool]] = {}
        self._coalesce = coalesce

    def _drop(self, scopes: set[str]) -> None:
        for key in [k for k in self._bodies if k[0] in scopes]:
            del self._bodies[key]

    def _stale(self, scopes: set[str]) -> None:
        for key, (body, built, _) in list(self._bodies.items()):
            if key[0] in scopes:
                self._bodies[key] = (body, built, True)

    def invalidate(self, event: Event) -> None:
        job = {f"job:{event.job_id}"} if event.job_id else set()
        if event.type.startswith("job."):
            self._drop(job | {"results"})
        elif event.type == "model_day.finished":
            self._stale(job | {"results"})
        else:
            self._stale(job)

    async def get(self, scope: str, key: str,
                  build: Callable[[], Awaitable[Any]]) -> web.Response:
        loop = asyncio.get_running_loop()
        entry = self._bodies.get((scope, key))
        if entry is not None and (not entry[2] or loop.time() - entry[1] < self._coalesce):
            return web.Response(body=entry[0], content_type="application/json")
        built = await build()  # a document, or an already serialised body
        body = built if isinstance(built, bytes) else web.json_response(built).body
        assert isinstance(body, bytes)
        if len(self._bodies) >= MAX_ENTRIES:
            self._bodies.pop(next(iter(self._bodies)))
        self._bodies[(scope, key)] = (body, loop.time(), False)
        return web.Response(body=body, content_type="application/json")
