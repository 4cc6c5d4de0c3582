"""GET /ws: live events, with `?since=<seq>` replay first and `?job_id=` filtering.
Without `since` a viewer gets the live stream only.

Fan-out: the event bus hands every event, in sequence order, to one `Broadcast` on the API's
loop. It frames the event once (a WebSocket text frame, RFC 6455 section 5.2: the same bytes
for every viewer) and writes it to each live viewer's transport; no queue fills and no task
wakes per viewer per event. Compression is off for that reason (shared frames).

- A viewer that replays (`since`) is registered before its replay begins: live events that
  arrive meanwhile are held, then sent after the replay, skipping those it already sent by
  sequence number. So nothing is lost and nothing comes twice.
- A viewer that cannot keep up is cut: when more than `MAX_UNSENT` bytes wait in its
  transport (or `MAX_HELD` events wait for its replay to end), it gets no more events and is
  closed with 1013 (try again later) and a message naming the `since` to reconnect with.
  Its socket's send buffer is kept to `SNDBUF`, so a stalled viewer shows up after tens of
  kilobytes rather than after the kernel's megabytes.
- Heartbeats are WebSocket pings.
"""

from __future__ import annotations

import asyncio
import json
import socket

from aiohttp import WSCloseCode, web

from aitrader.api.errors import query_int
from aitrader.api.fanout import SNDBUF, Viewer
from aitrader.api.keys import BROADCAST, BUS, METRICS, SOCKETS
from aitrader.api.metrics import STATUS_SENT

REPLAY_PAGE = 1000


async def websocket(request: web.Request) -> web.StreamResponse:
    since = query_int(request, "since", None, 0, 2**63 - 1)  # None: the live stream only
    job_id = request.query.get("job_id") or None
    ws = web.WebSocketResponse(heartbeat=20.0, max_msg_size=4096, compress=False)
    await ws.prepare(request)
    request[STATUS_SENT] = 101  # the upgrade is done, whatever happens to the viewer later
    transport = request.transport
    assert transport is not None
    sock = transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SNDBUF)
    bus, broadcast = request.app[BUS], request.app[BROADCAST]
    sockets, metrics = request.app[SOCKETS], request.app[METRICS]
    viewer = Viewer(transport, job_id, held=[] if since is not None else None)
    broadcast.viewers.add(viewer)
    sockets.sockets.add(ws)
    metrics.viewers.inc()
    reader = asyncio.ensure_future(_drain(ws, viewer))
    try:
        if since is not None:
            last = since
            try:
                while True:  # page through everything stored after `since`
                    page = await bus.since(last, job_id=job_id, limit=REPLAY_PAGE)
                    for event in page:
                        await ws.send_str(event.text
                                          or json.dumps(event.to_json(), default=str))
                        last = event.seq
                    if len(page) < REPLAY_PAGE:
                        break
            except ConnectionResetError:  # the viewer left during its replay
                return ws
            viewer.go_live(last)
        await viewer.done.wait()
        if viewer.cut and not ws.closed:
            await ws.close(code=WSCloseCode.TRY_AGAIN_LATER,
                           message=f"too slow; reconnect with since={viewer.last}".encode())
    finally:
        broadcast.viewers.discard(viewer)
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
        sockets.sockets.discard(ws)
        metrics.viewers.dec()
        if not ws.closed:
            await ws.close()
    return ws


async def _drain(ws: web.WebSocketResponse, viewer: Viewer) -> None:
    """Read (and ignore) what the viewer sends; when it closes, its handler ends."""
    try:
        async for _ in ws:
            pass
    finally:
        viewer.done.set()
