"""The one way the simulation is hosted: the supervisor and its actors on their own event loop,
in a thread of this process, for as long as an `async with SimulationHost(...)` block lasts.
`aitrader serve` (through `create_app`), `demo`, `run`, the tests and the benchmarks all use
it, so what is measured is what runs.

Why a second loop: the actors build LLM clients, open MCP sessions, parse completions and
write the ledger, tens of milliseconds of Python per model-day. On the API's loop that work
queued every request behind it; on its own loop, with serving first (`aitrader.priority`:
the simulation's loop steps aside while the API's is busy), the API's latency no longer
depends on what the simulation is doing. docs/api.md has the measurements behind this.

What crosses the thread boundary, and nothing else:
- the caller's commands to the supervisor (trigger, cancel, retry), posted with
  `run_coroutine_threadsafe`, whose reply (or domain error) comes back as an awaitable;
- every stored event, handed in sequence order to a mirror bus on the caller's loop
  (`EventBus.deliver`), where viewers, the read cache, the metrics and tests subscribe;
- mailbox depths, read as plain integers for the metrics.
Each loop has its own `Store` on the same database file (SQLite serialises the writers).

For its lifetime the host also makes the process serve well: a 1 ms GIL switch interval (a
thread waiting for the GIL waits up to that long, at every step of every request) and a
frozen start-up heap (a full collection would otherwise walk it and stop both loops for
~100 ms).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import gc
import os
import sys
import threading
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import TypeVar

import structlog

from aitrader.actors.messages import JobRequest, TriggerAnswer
from aitrader.actors.supervisor import Supervisor
from aitrader.agent.providers import WaitStats
from aitrader.errors import Conflict, Unavailable
from aitrader.events import Event, EventBus
from aitrader.priority import Priority, priority_of
from aitrader.settings import Settings
from aitrader.store import Store
from aitrader.store.jobs import JobRow

log = structlog.get_logger(__name__)

T = TypeVar("T")
SWITCH_INTERVAL = 0.001


def _sole_simulation(db: Path) -> int:
    """Hold `<db>.simulation.lock` (an flock, released when the process ends however it ends):
    two supervisors on one database would resume the same jobs and do the work twice. The
    file keeps the holder's pid, which a refusal names."""
    db.parent.mkdir(parents=True, exist_ok=True)
    path = db.with_name(db.name + ".simulation.lock")
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise Conflict(f"another aitrader process (pid {holder}) already runs the simulation "
                       f"on the database {db.name}: stop it first, or give this one a database "
                       "of its own (AITRADER_DB)") from None
    except BaseException:
        os.close(fd)
        raise
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


class SimulationHost:
    def __init__(self, settings: Settings, mirror: EventBus, *,
                 env: Mapping[str, str] | None = None, readers: int = 2) -> None:
        self._settings = settings
        self._mirror = mirror
        self._env = env
        self._readers = readers
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sup: Supervisor | None = None
        self._stop: asyncio.Event | None = None
        self._store: Store | None = None
        self._lock: int | None = None
        self._switch = sys.getswitchinterval()

    # -- the caller's side ------------------------------------------------------------------

    async def __aenter__(self) -> SimulationHost:
        """Start the thread; return once the supervisor has recovered and takes commands (or
        raise what kept it from starting)."""
        self._lock = _sole_simulation(self._settings.db_path)
        caller = asyncio.get_running_loop()
        ready: asyncio.Future[None] = caller.create_future()
        self._switch = sys.getswitchinterval()
        sys.setswitchinterval(SWITCH_INTERVAL)
        self._thread = threading.Thread(target=self._thread_main, name="aitrader-simulation",
                                        args=(caller, priority_of(caller), ready), daemon=True)
        self._thread.start()
        try:
            await ready
        except BaseException:
            await self.__aexit__(None, None, None)
            raise
        gc.collect()
        gc.freeze()
        return self

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        """Stop taking work, stop the actors (running model-days are voided at a safe point,
        or by recovery on the next start), close the store, end the thread."""
        loop, stop, thread = self._loop, self._stop, self._thread
        self._sup = None
        if loop is not None and stop is not None:
            with contextlib.suppress(RuntimeError):  # the loop has already ended
                loop.call_soon_threadsafe(stop.set)
        if thread is not None:
            await asyncio.to_thread(thread.join)
        gc.unfreeze()
        sys.setswitchinterval(self._switch)
        if self._lock is not None:
            os.close(self._lock)  # the lock goes with the descriptor
            self._lock = None

    async def _call(self, ask: Callable[[Supervisor], Awaitable[T]]) -> T:
        sup, loop = self._sup, self._loop
        if sup is None or loop is None:
            raise Unavailable("the simulation is not running (the service is stopping)")

        async def run() -> T:
            return await ask(sup)

        coro = run()
        try:
            future = asyncio.run_coroutine_threadsafe(coro, loop)
        except RuntimeError:
            coro.close()
            raise Unavailable("the simulation is not running (the service is stopping)") \
                from None
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if future.cancelled() and task is not None and not task.cancelling():
                # the simulation loop ended under the command, not this request
                raise Unavailable("the simulation stopped before it answered (the service "
                                  "is stopping)") from None
            raise

    async def trigger(self, request: JobRequest) -> TriggerAnswer:
        return await self._call(lambda sup: sup.trigger(request))

    async def cancel(self, job_id: str) -> JobRow:
        return await self._call(lambda sup: sup.cancel(job_id))

    async def retry(self, job_id: str) -> TriggerAnswer:
        return await self._call(lambda sup: sup.retry(job_id))

    @property
    def running(self) -> bool:
        """The simulation loop is up and its supervisor takes commands."""
        thread = self._thread
        return self._sup is not None and thread is not None and thread.is_alive()

    @property
    def write_error(self) -> str | None:
        """Why the simulation's last write failed, while none has succeeded since."""
        store = self._store
        return store.write_error if store is not None else None

    def mailbox_depths(self) -> list[tuple[str, int]]:
        """(model, messages waiting) per actor; safe to call from any thread."""
        sup = self._sup
        if sup is None:
            return []
        return [(name, actor.mailbox.qsize()) for name, actor in list(sup.actors.items())]

    def provider_stats(self) -> list[tuple[str, int, WaitStats]]:
        """Per LLM provider: requests in flight and how long requests waited for its limits."""
        sup = self._sup
        return sup.providers.stats() if sup is not None else []

    # -- the simulation thread --------------------------------------------------------------

    def _thread_main(self, caller: asyncio.AbstractEventLoop, priority: Priority | None,
                     ready: asyncio.Future[None]) -> None:
        def new_loop() -> asyncio.AbstractEventLoop:
            if priority is None:
                return asyncio.new_event_loop()
            return asyncio.SelectorEventLoop(priority.simulation_selector())

        with asyncio.Runner(loop_factory=new_loop) as runner:
            runner.run(self._main(caller, ready))

    async def _main(self, caller: asyncio.AbstractEventLoop,
                    ready: asyncio.Future[None]) -> None:
        def settle(exc: BaseException | None) -> None:
            def set_it() -> None:
                if ready.done():
                    return
                if exc is None:
                    ready.set_result(None)
                else:
                    ready.set_exception(exc)
            with contextlib.suppress(RuntimeError):  # the caller's loop is gone: nobody waits
                caller.call_soon_threadsafe(set_it)

        def forward(event: Event) -> None:
            with contextlib.suppress(RuntimeError):  # the caller's loop is gone: nobody watches
                caller.call_soon_threadsafe(self._mirror.deliver, event)

        try:
            async with Store(self._settings.db_path, readers=self._readers,
                             busy_timeout_ms=self._settings.db_busy_timeout_ms) as store:
                self._store = store
                bus = EventBus(store)
                bus.add_listener(forward)
                sup = Supervisor(store=store, bus=bus, settings=self._settings, env=self._env)
                task = asyncio.create_task(sup.run(), name="supervisor")
                started = asyncio.create_task(sup.wait_started())
                await asyncio.wait([task, started], return_when=asyncio.FIRST_COMPLETED)
                if not started.done():
                    started.cancel()
                    await task  # it ended while recovering: raise why
                    raise RuntimeError("the supervisor stopped while recovering")
                self._stop = asyncio.Event()
                self._loop, self._sup = asyncio.get_running_loop(), sup
                settle(None)
                stopping = asyncio.create_task(self._stop.wait())
                await asyncio.wait([task, stopping], return_when=asyncio.FIRST_COMPLETED)
                if task.done() and not stopping.done():
                    log.error("supervisor_ended", error=repr(task.exception()))
                stopping.cancel()
                self._sup = None
                task.cancel()
                await asyncio.gather(task, stopping, return_exceptions=True)
                bus.close()
        except BaseException as exc:
            settle(exc)
            if not isinstance(exc, Exception):
                raise
            log.error("simulation_loop_failed", error=repr(exc))
        finally:
            self._sup = self._store = None
