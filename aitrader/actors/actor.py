"""One actor per model: its own mailbox, runtime config and MCP sessions.

The actor runs its part of a job (a batch of model-days) strictly in order, since positions
depend on the day before, and never waits for another model. Its MCP sessions are opened in
its own task, on its first batch, and reopened when they break; its HTTP client for the LLM
API lives as long as it does. When a batch ends, however it
ends, every model-day of it has ended and the supervisor is told.

What the actor cannot handle escapes `run()`; the supervisor then calls `clean_up_after`,
which voids the open attempt, fails the batch's open model-days with the error and reports
the batch done, retrying each write until it succeeds, and starts `run()` again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping

import httpx
import structlog

from aitrader import failpoints
from aitrader.actors.messages import BatchDone, RunDays, Stop
from aitrader.actors.modelday import Runtime, describe, end_days, run_model_day
from aitrader.agent.factory import make_agent
from aitrader.agent.providers import Providers
from aitrader.agent.toolbox import ToolBox, ToolResult
from aitrader.errors import AITraderError
from aitrader.events import EventBus
from aitrader.ledger import Ledger
from aitrader.settings import Settings
from aitrader.store import Store, until_done
from aitrader.store.jobs import DayStatus
from aitrader.tools.client import shared_ssl_context

log = structlog.get_logger(__name__)


class ModelActor:
    def __init__(self, signature: str, *, store: Store, bus: EventBus, settings: Settings,
                 env: Mapping[str, str], report: Callable[[BatchDone], None],
                 mailbox_size: int = 16, providers: Providers | None = None) -> None:
        self.signature = signature
        self.mailbox: asyncio.Queue[RunDays | Stop] = asyncio.Queue(mailbox_size)
        self.runtime = Runtime(signature)
        self.batch: RunDays | None = None  # the part of a job it is working on
        self._store = store
        self._ledger = Ledger(store)
        self._bus = bus
        self._settings = settings
        self._env = env
        self._report = report
        self._providers = providers or Providers()

    async def run(self) -> None:
        """The actor's task: its MCP sessions live and die inside it. Returns on Stop."""
        structlog.contextvars.bind_contextvars(model=self.signature)
        async with ToolBox(self._settings, self.runtime.identity,
                           cancelled=self.runtime.cancelled, observer=self._tool_called) as tools, \
                httpx.AsyncClient(verify=shared_ssl_context(), timeout=None) as http:
            while True:
                msg = await self.mailbox.get()
                if isinstance(msg, Stop):
                    return
                self.batch = msg
                try:
                    await self._run_days(msg, tools, http)
                except AITraderError as exc:  # the batch cannot go on: its open days fail
                    log.warning("batch_failed", job_id=msg.job_id, error=exc.message)
                    await end_days(self._store, self._bus, msg.job_id, self.signature,
                                   DayStatus.FAILED, exc.message)
                self._done()

    def _done(self) -> None:
        batch, self.batch = self.batch, None
        rt = self.runtime
        rt.job_id = rt.date = rt.attempt = rt.cancel = None
        if batch is not None:
            self._report(BatchDone(batch.job_id, self.signature))

    async def _tool_called(self, result: ToolResult) -> None:
        rt = self.runtime
        await self._bus.publish("model_day.tool_call", job_id=rt.job_id, model=rt.model,
                                date=rt.date, tool=result.tool, error=result.is_error,
                                ms=round(result.ms, 2))

    async def _run_days(self, batch: RunDays, tools: ToolBox, http: httpx.AsyncClient) -> None:
        rt = self.runtime
        rt.job_id, rt.date, rt.cancel = batch.job_id, None, batch.cancel
        structlog.contextvars.bind_contextvars(job_id=batch.job_id)
        cfg = batch.config.agent_config
        tools.call_timeout = cfg.tool_timeout
        tools.for_market(batch.config.market)
        agent = make_agent(batch.model, batch.config, store=self._store, ledger=self._ledger,
                           env=self._env, bus=self._bus, http=http,
                           providers=self._providers)
        await agent.register_agent()
        for day in batch.days:
            failpoints.hit("actor.between_days")
            if batch.cancel.is_set():
                await end_days(self._store, self._bus, batch.job_id, self.signature,
                               DayStatus.CANCELLED, "the job was cancelled")
                return
            structlog.contextvars.bind_contextvars(date=day)
            out = await run_model_day(
                store=self._store, ledger=self._ledger, agent=agent, tools=tools, runtime=rt,
                day=day, bus=self._bus, max_retries=cfg.max_retries,
                base_delay=cfg.base_delay, day_limit=cfg.model_day_timeout,
                market=batch.config.venue)
            if out.status != DayStatus.COMPLETED:
                return  # that day and the later ones have ended with it

    async def clean_up_after(self, exc: BaseException) -> None:
        """After an exception escaped `run()`: void the model's open attempt, end the batch's
        open model-days `failed` with the error, and report the batch done. Each write is
        retried until it succeeds (the database may be locked or the disk full)."""
        error = describe(exc)
        await until_done(lambda: self._ledger.void_running(error, model=self.signature),
                         what="void the open attempt")
        batch = self.batch
        if batch is not None:
            await until_done(lambda: end_days(self._store, self._bus, batch.job_id,
                                              self.signature, DayStatus.FAILED, error),
                             what="fail the open model-days")
        self._done()
