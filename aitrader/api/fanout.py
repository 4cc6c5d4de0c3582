"""Fan-out of events to WebSocket viewers: one `Broadcast` per app, handed every event by the
event bus, in sequence order, on the API's loop. It frames each event once (a WebSocket text
frame, RFC 6455 section 5.2: the same bytes for every viewer) and writes it to each live
viewer's transport: no queue fills and no task wakes per viewer per event. See api/ws.py for
the viewer's side (replay, cut, close).
"""

from __future__ import annotations

import asyncio
import json

import attrs

from aitrader.events import Event

SNDBUF = 64 * 1024  # a viewer socket's kernel send buffer
MAX_UNSENT = 256 * 1024  # bytes waiting in a viewer's transport before it is cut
MAX_HELD = 5000  # live events held while a viewer replays


def text_frame(text: str) -> bytes:
    """One unmasked, unfragmented WebSocket text frame (a server's)."""
    payload = text.encode()
    n = len(payload)
    if n < 126:
        head = bytes((0x81, n))
    elif n < 1 << 16:
        head = bytes((0x81, 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((0x81, 127)) + n.to_bytes(8, "big")
    return head + payload


Frames = list[tuple[int, bytes]]  # (sequence number, frame), in sequence order


@attrs.define(eq=False)
class Viewer:
    transport: asyncio.BaseTransport
    job_id: str | None
    last: int = 0  # the last sequence number sent
    held: Frames | None = None  # live events waiting for the replay to end
    cut: bool = False
    done: asyncio.Event = attrs.Factory(asyncio.Event)

    def offer(self, frames: Frames, joined: bytes) -> None:
        """The events of a batch it wants (`joined`: their frames, one after another)."""
        if self.cut:
            return
        if self.held is not None:
            if len(self.held) + len(frames) > MAX_HELD:
                self._cut()
            else:
                self.held.extend(frames)
        elif frames[0][0] > self.last:
            self._write(joined, frames[-1][0])
        else:  # just after its replay: some of these were sent by it
            for seq, frame in frames:
                if seq > self.last:
                    self._write(frame, seq)

    def _write(self, data: bytes, last: int) -> None:
        transport = self.transport
        assert isinstance(transport, asyncio.WriteTransport)
        if self.cut:
            return
        if transport.is_closing():  # the viewer has gone; its handler is ending
            self.done.set()
        elif transport.get_write_buffer_size() > MAX_UNSENT:
            self._cut()
        else:
            transport.write(data)
            self.last = last

    def go_live(self, last: int) -> None:
        """The replay has sent everything up to `last`: send what was held, then live."""
        self.last = last
        held, self.held = self.held or [], None
        for seq, frame in held:
            if seq > self.last:
                self._write(frame, seq)

    def _cut(self) -> None:
        self.cut = True
        self.done.set()


@attrs.define
class Broadcast:
    """Events delivered while the loop is busy are written together, at the end of the loop's
    current turn: one write (one system call) per viewer for the batch instead of one per
    event. An idle loop writes each event at once; a busy one batches more."""

    viewers: set[Viewer] = attrs.Factory(set)
    _batch: list[tuple[int, str | None, bytes]] = attrs.Factory(list)

    def deliver(self, event: Event) -> None:
        """Called by the event bus with every event, in sequence order, on this loop."""
        if not self.viewers:
            return
        if not self._batch:
            asyncio.get_running_loop().call_soon(self._flush)
        self._batch.append((event.seq, event.job_id,
                            text_frame(event.text or json.dumps(event.to_json(), default=str))))

    def _flush(self) -> None:
        batch, self._batch = self._batch, []
        per_filter: dict[str | None, tuple[Frames, bytes]] = {}
        for viewer in tuple(self.viewers):
            found = per_filter.get(viewer.job_id)
            if found is None:
                frames = [(seq, frame) for seq, job, frame in batch
                          if viewer.job_id is None or job == viewer.job_id]
                found = per_filter[viewer.job_id] = (frames, b"".join(f for _, f in frames))
            if found[0]:
                viewer.offer(*found)
