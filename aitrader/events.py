"""Events: every state change and tool call, stored with a monotonic sequence number and
published on an in-process bus (WebSocket viewers, metrics and tests subscribe to it).

The sequence number is the `events` table's AUTOINCREMENT key, so it is monotonic across
restarts and a viewer can resume from the last one it saw. A subscriber has a bounded queue;
one that falls behind is cut off (its iterator ends with `overflowed` set) instead of slowing
the publisher, and can catch up from the table.

A bus may also be a mirror of a bus on another event loop (the service's simulation loop):
a listener of the publishing bus hands each stored event to the mirror's `deliver` on the
mirror's loop, in sequence order.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import attrs

from aitrader.store import Store, utcnow


@attrs.frozen
class Event:
    seq: int
    type: str
    time: str
    job_id: str | None = None
    model: str | None = None
    date: str | None = None
    data: Mapping[str, Any] = attrs.Factory(dict)
    text: str = attrs.field(default="", eq=False, repr=False)  # to_json() serialised, once

    def to_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "type": self.type, "time": self.time, "job_id": self.job_id,
                "model": self.model, "date": self.date, **dict(self.data)}


class Subscription:
    def __init__(self, bus: EventBus, maxsize: int, job_id: str | None) -> None:
        self._bus = bus
        self._limit = maxsize
        # one slot more than the limit, kept for the end marker
        self._queue: asyncio.Queue[Event | None] = asyncio.Queue(maxsize + 1)
        self.job_id = job_id
        self.overflowed = False
        self.closed = False

    def _offer(self, event: Event) -> None:
        if self.closed or (self.job_id and event.job_id != self.job_id):
            return
        if self._queue.qsize() >= self._limit:
            self.overflowed = True  # what it has is contiguous; it resumes after the last
            self.close()
            return
        self._queue.put_nowait(event)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._bus._subscribers.discard(self)
            self._queue.put_nowait(None)  # the reader stops here

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Event]:
        while True:
            event = await self._queue.get()
            if event is None:
                return
            yield event

    async def get(self, wait: float | None = None) -> Event | None:
        """The next event, or None when closed (or after `wait` seconds)."""
        try:
            return await asyncio.wait_for(self._queue.get(), wait)
        except TimeoutError:
            return None


class EventBus:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._subscribers: set[Subscription] = set()
        self._listeners: list[Callable[[Event], None]] = []
        self._order = asyncio.Lock()  # store and fan out in one order: seq order

    def subscribe(self, *, maxsize: int = 1000, job_id: str | None = None) -> Subscription:
        sub = Subscription(self, maxsize, job_id)
        self._subscribers.add(sub)
        return sub

    def add_listener(self, listener: Callable[[Event], None]) -> None:
        """Call `listener(event)` for every event this bus publishes or is handed, in
        sequence order, once it is stored (it must not block: a publisher calls it inside
        its ordering lock)."""
        self._listeners.append(listener)

    def deliver(self, event: Event) -> None:
        """Hand a stored event to this bus's subscribers and listeners."""
        for sub in list(self._subscribers):
            sub._offer(event)
        for listener in self._listeners:
            listener(event)

    async def publish(self, type: str, *, job_id: str | None = None, model: str | None = None,
                      date: str | None = None, **data: Any) -> Event:
        async with self._order:
            async with self._store.write() as conn:
                time = utcnow()  # when it is recorded, not when it began to wait for the lock
                cur = await conn.execute(
                    "INSERT INTO events (time, type, job_id, model, date, data) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (time, type, job_id, model, date, json.dumps(data, default=str)))
                seq = cur.lastrowid
            assert seq is not None
            event = Event(seq, type, time, job_id, model, date, data)
            # serialised once here, not once per viewer
            event = attrs.evolve(event, text=json.dumps(event.to_json(), default=str))
            self.deliver(event)
        return event

    async def since(self, seq: int, *, job_id: str | None = None, limit: int = 10_000
                    ) -> list[Event]:
        """Stored events after `seq` (for a viewer catching up), oldest first."""
        sql = "SELECT seq, type, time, job_id, model, date, data FROM events WHERE seq > ?"
        params: list[Any] = [seq]
        if job_id:
            sql += " AND job_id = ?"
            params.append(job_id)
        sql += " ORDER BY seq LIMIT ?"
        params.append(limit)
        async with self._store.read() as conn:
            cur = await conn.execute(sql, params)
            rows = await cur.fetchall()
        return [Event(r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6])) for r in rows]

    def close(self) -> None:
        for sub in list(self._subscribers):
            sub.close()
