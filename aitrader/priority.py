"""Serving goes before simulating: the API's event loop has priority over the simulation's.

The service runs two event loops in one process (`aitrader.actors.host`): the API's, which
answers requests and feeds WebSocket viewers, and the simulation's, which runs the actors.
Python runs one thread at a time (the GIL), and a thread that wants it back waits up to the
switch interval each time, so a busy simulation thread would make every step of every
request wait. Instead:

- the API loop's selector records whether that loop is busy: it is idle only while it
  blocks waiting for I/O;
- the simulation loop's selector, once per loop iteration, sleeps (without the GIL) in short
  steps while the API loop is busy, up to `yield_max` seconds, so the simulation always
  advances but the API runs almost undisturbed.

Both hooks use asyncio's public `SelectorEventLoop(selector)` seam; nothing else changes.
The API's loop is a `ServingLoop` (a selector loop that carries its `Priority`); every command
that hosts the simulation runs on one (`run`, or `ServingLoop()` for aiohttp's `run_app`),
and so do the tests, so the host finds the priority on the loop that starts it.
"""

from __future__ import annotations

import asyncio
import selectors
import time
from collections.abc import Coroutine, Mapping
from typing import Any, TypeVar

T = TypeVar("T")


class _Delegating(selectors.BaseSelector):
    """The platform's default selector, with a Priority beside it for the subclasses."""

    def __init__(self, priority: Priority) -> None:
        self._inner = selectors.DefaultSelector()
        self._priority = priority

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._inner.register(fileobj, events, data)

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        return self._inner.unregister(fileobj)

    def modify(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._inner.modify(fileobj, events, data)

    def select(self, timeout: float | None = None
               ) -> list[tuple[selectors.SelectorKey, int]]:
        return self._inner.select(timeout)

    def close(self) -> None:
        self._inner.close()

    def get_key(self, fileobj: Any) -> selectors.SelectorKey:
        return self._inner.get_key(fileobj)

    def get_map(self) -> Mapping[Any, selectors.SelectorKey]:
        return self._inner.get_map()


class Priority:
    """Shared by the two loops' selectors. `api_busy` is a plain flag: written by the API
    thread, read by the simulation thread."""

    def __init__(self, *, yield_max: float = 0.005, step: float = 0.0002) -> None:
        self.api_busy = False
        self.yield_max = yield_max
        self.step = step
        self.yielded = 0.0  # seconds the simulation has stepped aside (for tests and bench)

    def api_selector(self) -> selectors.BaseSelector:
        return _ServingSelector(self)

    def simulation_selector(self) -> selectors.BaseSelector:
        return _YieldingSelector(self)


class _ServingSelector(_Delegating):
    def select(self, timeout: float | None = None
               ) -> list[tuple[selectors.SelectorKey, int]]:
        if timeout is not None and timeout <= 0:  # callbacks are waiting: still busy
            return self._inner.select(timeout)
        self._priority.api_busy = False
        try:
            return self._inner.select(timeout)
        finally:
            self._priority.api_busy = True


class _YieldingSelector(_Delegating):
    def select(self, timeout: float | None = None
               ) -> list[tuple[selectors.SelectorKey, int]]:
        p = self._priority
        if p.api_busy:
            start = time.perf_counter()
            deadline = start + p.yield_max
            while p.api_busy and time.perf_counter() < deadline:
                time.sleep(p.step)
            p.yielded += time.perf_counter() - start
        return self._inner.select(timeout)


class ServingLoop(asyncio.SelectorEventLoop):
    """The API's event loop: a selector loop whose `priority` the simulation's loop yields to."""

    def __init__(self) -> None:
        self.priority = Priority()
        super().__init__(self.priority.api_selector())


def priority_of(loop: asyncio.AbstractEventLoop) -> Priority | None:
    return loop.priority if isinstance(loop, ServingLoop) else None


def run(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run` on a ServingLoop."""
    with asyncio.Runner(loop_factory=ServingLoop) as runner:
        return runner.run(main)
