"""The service's simulation loop: the supervisor and its actors on their own event loop, in a
thread of the service process.

Why a second loop: the actors build LLM clients, open MCP sessions, parse completions and
write the ledger, tens of milliseconds of Python per model-day. On the API's loop that work
queued every request behind it (p99 of 60-640 ms at 500 requests/s while ten models ran).
On its own loop the API waits at most a GIL switch interval for it, and the API's latency no
longer depends on what the simulation is doing.

What crosses the thread boundary, and nothing else:
- the API's messages to the supervisor (trigger, cancel, retry), posted with
  `run_coroutine_threadsafe`, whose reply (or domain error) comes back as an awaitable;
- every stored event, handed in sequence order to a mirror bus on the API's loop
  (`EventBus.deliver`), where the WebSocket viewers, the read cache and the metrics
  subscribe;
- mailbox depths, read as plain integers for the metrics.
Each loop has its own `Store` on the same database file (SQLite serialises the writers).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Awaitable, Callable
from typing import TypeVar

import structlog

from aitrader.actors.jobs import JobRow
from aitrader.actors.messages import JobRequest
from aitrader.actors.supervisor import Supervisor, TriggerAnswer
from aitrader.errors import Unavailable
from aitrader.events import Event, EventBus
from aitrader.priority import Priority
from aitrader.settings import Settings
from aitrader.store import Store

log = structlog.get_logger(__name__)

T = TypeVar("T")


class SimulationHost:
    def __init__(self, settings: Settings, mirror: EventBus, *,
                 env: dict[str, str] | None = None, readers: int = 2,
                 priority: Priority | None = None) -> None:
        self._settings = settings
        self._priority = priority
        self._mirror = mirror
        self._env = env
        self._readers = readers
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sup: Supervisor | None = None
        self._stop: asyncio.Event | None = None

    # -- the API's side ---------------------------------------------------------------------

    async def start(self) -> None:
        """Start the thread; return once the supervisor has recovered and takes messages
        (or raise what kept it from starting)."""
        api_loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = api_loop.create_future()
        self._thread = threading.Thread(target=self._thread_main, name="aitrader-simulation",
                                        args=(api_loop, ready), daemon=True)
        self._thread.start()
        try:
            await ready
        except BaseException:
            await asyncio.to_thread(self._thread.join)
            raise

    async def stop(self) -> None:
        """Stop taking work, stop the actors (running model-days are voided at a safe point),
        close the simulation's store, and end the thread."""
        loop, stop, thread = self._loop, self._stop, self._thread
        self._sup = None
        if loop is not None and stop is not None:
            with contextlib.suppress(RuntimeError):  # the loop has already ended
                loop.call_soon_threadsafe(stop.set)
        if thread is not None:
            await asyncio.to_thread(thread.join)

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
                # the simulation loop ended under the message, not this request
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
        """The simulation loop is up and its supervisor takes messages."""
        thread = self._thread
        return self._sup is not None and thread is not None and thread.is_alive()

    def mailbox_depths(self) -> list[tuple[str, int]]:
        """(model, messages waiting) per actor; safe to call from any thread."""
        sup = self._sup
        if sup is None:
            return []
        return [(name, actor.mailbox.qsize()) for name, actor in list(sup.actors.items())]

    # -- the simulation thread --------------------------------------------------------------

    def _thread_main(self, api_loop: asyncio.AbstractEventLoop,
                     ready: asyncio.Future[None]) -> None:
        priority = self._priority

        def new_loop() -> asyncio.AbstractEventLoop:
            if priority is None:
                return asyncio.new_event_loop()
            return asyncio.SelectorEventLoop(priority.simulation_selector())

        with asyncio.Runner(loop_factory=new_loop) as runner:
            runner.run(self._main(api_loop, ready))

    async def _main(self, api_loop: asyncio.AbstractEventLoop,
                    ready: asyncio.Future[None]) -> None:
        def settle(exc: BaseException | None) -> None:
            def set_it() -> None:
                if ready.done():
                    return
                if exc is None:
                    ready.set_result(None)
                else:
                    ready.set_exception(exc)
            with contextlib.suppress(RuntimeError):  # the API loop is gone: nobody waits
                api_loop.call_soon_threadsafe(set_it)

        def forward(event: Event) -> None:
            with contextlib.suppress(RuntimeError):  # the API loop is gone: nobody watches
                api_loop.call_soon_threadsafe(self._mirror.deliver, event)

        try:
            async with Store(self._settings.db_path, readers=self._readers) as store:
                bus = EventBus(store)
                bus.add_listener(forward)
                sup = Supervisor(store=store, bus=bus, settings=self._settings,
                                 configs_dir=self._settings.configs_dir,
                                 max_concurrent_jobs=self._settings.max_concurrent_jobs,
                                 env=self._env)
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
            self._sup = None
