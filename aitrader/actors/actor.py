"""One actor per model: its own mailbox, runtime config and MCP sessions.

The actor runs its dates strictly in order (positions depend on the day before) and never
waits for another model. Its MCP sessions are opened and closed in its own task. It reports
each model-day to the store and the event bus, and tells the supervisor when its part of a
job is done.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AsyncExitStack
from pathlib import Path

import structlog

from aitrader.actors.jobs import set_model_day
from aitrader.actors.messages import ActorDone, RunDays, Stop
from aitrader.actors.modelday import Runtime, run_model_day
from aitrader.agent.base import BaseAgent
from aitrader.agent.baseline import BASELINES
from aitrader.agent.llm import LLMAgent
from aitrader.agent.recorder import Recorder
from aitrader.agent.toolbox import ToolBox, ToolResult, ToolServerDown
from aitrader.config import ModelConfig, SimulationConfig
from aitrader.errors import AITraderError, ConfigError
from aitrader.events import EventBus
from aitrader.ledger import Ledger
from aitrader.settings import Settings
from aitrader.store import Store

log = structlog.get_logger(__name__)

AGENT_TYPES = {"BaseAgent": LLMAgent, "LLMAgent": LLMAgent}


def make_agent(model: ModelConfig, config: SimulationConfig, *, store: Store, ledger: Ledger,
               env: dict[str, str] | None = None, bus: EventBus | None = None) -> BaseAgent:
    """The agent class for a model: a baseline by its basemodel, else by `agent_type`."""
    if model.is_baseline:
        cls = BASELINES.get(model.basemodel)
        if cls is None:
            raise ConfigError(f"unknown baseline {model.basemodel!r}; known: "
                              f"{', '.join(sorted(BASELINES))}", field="basemodel")
        return cls(model, config, ledger)
    agent_cls = AGENT_TYPES.get(config.agent_type)
    if agent_cls is None:
        raise ConfigError(f"unknown agent_type {config.agent_type!r}; known: "
                          f"{', '.join(sorted(AGENT_TYPES))}", field="agent_type")
    recorder = Recorder(store, model.signature, log_root=Path(config.log_config.log_path),
                        price=config.llm_prices.get(model.basemodel), bus=bus)
    return agent_cls(model, config, ledger, store=store, recorder=recorder, env=env)


class ModelActor:
    def __init__(self, signature: str, *, store: Store, bus: EventBus, settings: Settings,
                 report: Callable[[ActorDone], None],
                 is_cancelled: Callable[[str], bool], mailbox_size: int = 64,
                 env: dict[str, str] | None = None) -> None:
        self.signature = signature
        self.mailbox: asyncio.Queue[RunDays | Stop] = asyncio.Queue(mailbox_size)
        self.runtime = Runtime(signature)
        self._store = store
        self._ledger = Ledger(store)
        self._bus = bus
        self._settings = settings
        self._report = report
        self._is_cancelled = is_cancelled
        self._env = env

    async def run(self) -> None:
        """The actor's task: its MCP sessions live and die inside it."""
        structlog.contextvars.bind_contextvars(model=self.signature)
        async with AsyncExitStack() as stack:
            tools: ToolBox | None = None
            while True:
                msg = await self.mailbox.get()
                if isinstance(msg, Stop):
                    return
                try:
                    if tools is None:
                        tools = await self._open_tools(stack)
                    await self._run_days(msg, tools)
                except ToolServerDown as exc:
                    await self._fail_rest(msg, exc.message)
                    await stack.aclose()  # reopen next time: the server may be back
                    tools = None
                except AITraderError as exc:
                    await self._fail_rest(msg, exc.message)
                finally:
                    self._report(ActorDone(msg.job_id, self.signature))

    async def _open_tools(self, stack: AsyncExitStack) -> ToolBox:
        return await ToolBox.open(stack, self._settings, self.runtime.identity,
                                  cancelled=lambda: self.runtime.cancel_requested,
                                  observer=self._tool_called)

    async def _tool_called(self, result: ToolResult) -> None:
        rt = self.runtime
        await self._bus.publish("model_day.tool_call", job_id=rt.job_id, model=rt.model,
                                date=rt.date, tool=result.tool, error=result.is_error,
                                ms=round(result.ms, 2))

    async def _run_days(self, msg: RunDays, tools: ToolBox) -> None:
        rt = self.runtime
        rt.job_id, rt.date, rt.cancel_requested = msg.job_id, None, False
        structlog.contextvars.bind_contextvars(job_id=msg.job_id)
        agent = make_agent(msg.model, msg.config, store=self._store, ledger=self._ledger,
                           env=self._env, bus=self._bus)
        await agent.register_agent()
        cfg = msg.config.agent_config
        for i, day in enumerate(msg.days):
            if self._is_cancelled(msg.job_id):
                for rest in msg.days[i:]:
                    await set_model_day(self._store, msg.job_id, self.signature, rest,
                                        "cancelled")
                return
            structlog.contextvars.bind_contextvars(date=day)
            await set_model_day(self._store, msg.job_id, self.signature, day, "running")
            out = await run_model_day(
                ledger=self._ledger, agent=agent, tools=tools, runtime=rt, day=day,
                bus=self._bus, max_retries=cfg.max_retries, base_delay=cfg.base_delay,
                day_limit=cfg.model_day_timeout)
            if out.status != "completed":  # completed was written with the ledger's commit
                await set_model_day(self._store, msg.job_id, self.signature, day, out.status,
                                    tries=out.tries, duration=out.duration_seconds,
                                    error=out.error)
            if out.status == "failed":
                # later days depend on this one: they cannot run
                for rest in msg.days[i + 1:]:
                    await set_model_day(self._store, msg.job_id, self.signature, rest,
                                        "failed", error=f"not run: {day} failed")
                return
            if out.status == "cancelled":
                for rest in msg.days[i + 1:]:
                    await set_model_day(self._store, msg.job_id, self.signature, rest,
                                        "cancelled")
                return

    async def _fail_rest(self, msg: RunDays, error: str) -> None:
        log.warning("actor_batch_failed", job_id=msg.job_id, error=error)
        for day in msg.days:
            async with self._store.read() as conn:
                cur = await conn.execute(
                    "SELECT status FROM model_days WHERE job_id = ? AND model = ? AND date = ?",
                    (msg.job_id, self.signature, day))
                row = await cur.fetchone()
            if row and row[0] in ("pending", "running"):
                await set_model_day(self._store, msg.job_id, self.signature, day, "failed",
                                    error=error)
                await self._bus.publish("model_day.finished", job_id=msg.job_id,
                                        model=self.signature, date=day, status="failed",
                                        error=error)
