"""Serialised read responses, dropped by the events that change them.

GET /simulate/status of a large job and GET /results are polled (Windmill, dashboards) far more
often than they change. The cache keeps the serialised body per request key; any job event
drops that job's entries, and a finished model-day drops the results. A body read between a
write and its event may be cached until the event arrives, a few milliseconds later.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from aitrader.events import Event

MAX_ENTRIES = 512


class ReadCache:
    def __init__(self) -> None:
        self._bodies: dict[tuple[str, str], bytes] = {}
        self.hits = 0

    def invalidate(self, event: Event) -> None:
        if event.job_id:
            for key in [k for k in self._bodies if k[0] == f"job:{event.job_id}"]:
                del self._bodies[key]
        if event.type == "model_day.finished" or event.type.startswith("job."):
            for key in [k for k in self._bodies if k[0] in ("results", "jobs")]:
                del self._bodies[key]

    async def get(self, scope: str, key: str,
                  build: Callable[[], Awaitable[Any]]) -> web.Response:
        found = self._bodies.get((scope, key))
        if found is None:
            found = web.json_response(await build()).body  # type: ignore[assignment]
            assert isinstance(found, bytes)
            if len(self._bodies) >= MAX_ENTRIES:
                self._bodies.pop(next(iter(self._bodies)))
            self._bodies[(scope, key)] = found
        else:
            self.hits += 1
        return web.Response(body=found, content_type="application/json")
