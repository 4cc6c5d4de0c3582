"""GET /ws: live events, with `?since=<seq>` replay first and `?job_id=` filtering.
Without `since` a viewer gets the live stream only.

The viewer subscribes before it replays, so nothing published in between is lost; events the
replay already sent are skipped by sequence number. A viewer whose queue fills (it cannot keep
up) is closed with 1013 (try again later) and can reconnect with `since`. Heartbeats are
WebSocket pings.
"""

from __future__ import annotations

import asyncio
import json

from aiohttp import WSCloseCode, web

from aitrader.api.keys import BUS, METRICS, SOCKETS
from aitrader.errors import InvalidInput
from aitrader.events import Subscription

VIEWER_QUEUE = 2000
REPLAY_PAGE = 1000


async def websocket(request: web.Request) -> web.StreamResponse:
    raw_since = request.query.get("since")
    if raw_since is not None and (not raw_since.isdigit() or len(raw_since) > 18):
        raise InvalidInput("since must be a sequence number (a whole number >= 0)",
                           field="since")
    since = int(raw_since) if raw_since is not None else None  # None: the live stream only
    job_id = request.query.get("job_id") or None
    ws = web.WebSocketResponse(heartbeat=20.0, max_msg_size=4096)
    await ws.prepare(request)
    bus, sockets, metrics = request.app[BUS], request.app[SOCKETS], request.app[METRICS]
    sub = bus.subscribe(maxsize=VIEWER_QUEUE, job_id=job_id)
    sockets.sockets.add(ws)
    metrics.viewers.inc()
    last = 0
    try:
        if since is not None:
            last = since
            while True:  # page through everything stored after `since`
                page = await bus.since(last, job_id=job_id, limit=REPLAY_PAGE)
                for event in page:
                    await ws.send_str(event.text or json.dumps(event.to_json(), default=str))
                    last = event.seq
                if len(page) < REPLAY_PAGE:
                    break
        # the reader ends the subscription when the viewer leaves, so the loop below needs
        # no per-event wait on two futures
        reader = asyncio.ensure_future(_drain(ws, sub))
        try:
            while True:
                live = await sub.get()
                if live is None:
                    if sub.overflowed:  # cut off: it could not keep up
                        await ws.close(code=WSCloseCode.TRY_AGAIN_LATER, message=(
                            f"too slow; reconnect with since={last}".encode()))
                    break
                if live.seq > last:
                    await ws.send_str(live.text or json.dumps(live.to_json(), default=str))
                    last = live.seq
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
    finally:
        sub.close()
        sockets.sockets.discard(ws)
        metrics.viewers.dec()
        if not ws.closed:
            await ws.close()
    return ws


async def _drain(ws: web.WebSocketResponse, sub: Subscription) -> None:
    """Read (and ignore) what the viewer sends; when it closes, end its subscription."""
    try:
        async for _ in ws:
            pass
    finally:
        sub.close()
