"""One model-day as an attempt: open it, let the agent trade, commit it or void it.

A model-day ends in exactly one transaction (complete: end-of-day snapshot and P&L) or is
voided (its trades removed in one transaction). A failure is retried up to `max_retries`
times with exponential backoff, each retry starting from the same baseline because the failed
attempt's trades were voided first. A cancel voids the running attempt.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Protocol

import attrs
import structlog

from aitrader.actors.jobs import model_day_update
from aitrader.agent.base import DayContext, SessionReport
from aitrader.agent.toolbox import Cancelled, ToolBox
from aitrader.errors import AITraderError
from aitrader.events import EventBus
from aitrader.ledger import DayResult, Ledger
from aitrader.market.calendar import nyse
from aitrader.tools.identity import Identity

log = structlog.get_logger(__name__)


@attrs.define
class Runtime:
    """The actor's own runtime config: who it is and which model-day it is in right now.
    The MCP sessions read it on every request (identity headers)."""

    model: str
    job_id: str | None = None
    date: str | None = None
    attempt: int | None = None
    cancel_requested: bool = False

    def identity(self) -> Identity | None:
        if self.date is None:
            return None
        return Identity(self.model, self.date, self.job_id, self.attempt)


class Agent(Protocol):
    async def run_trading_session(self, day: DayContext, tools: ToolBox) -> SessionReport: ...


@attrs.frozen
class DayOutcome:
    status: str  # completed | failed | cancelled
    tries: int
    duration_seconds: float
    result: DayResult | None = None
    report: SessionReport | None = None
    error: str | None = None


async def run_model_day(
    *,
    ledger: Ledger,
    agent: Agent,
    tools: ToolBox,
    runtime: Runtime,
    day: str,
    bus: EventBus | None = None,
    max_retries: int = 3,
    base_delay: float = 1.0,
    day_limit: float = 900.0,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> DayOutcome:
    started = time.monotonic()
    model, job = runtime.model, runtime.job_id
    error = ""
    tries = 0
    for tries in range(1, max_retries + 2):
        attempt = await ledger.open_attempt(model, day, job_id=job)
        runtime.date, runtime.attempt = day, attempt
        if bus:
            await bus.publish("model_day.started", job_id=job, model=model, date=day,
                              attempt=attempt, try_number=tries)
        try:
            start = await ledger.position(attempt)
            prev = nyse().previous(date.fromisoformat(day))
            ctx = DayContext(model, day, prev.isoformat() if prev else None, start, job,
                             attempt)
            report = await asyncio.wait_for(agent.run_trading_session(ctx, tools), day_limit)
            if runtime.cancel_requested:
                raise Cancelled("the job was cancelled")
            also = [("UPDATE attempts SET steps = ?, stop_signal = ?, summary = ?, "
                     "tool_usage = ? WHERE id = ?",
                     (report.steps, int(report.stop_signal), report.summary[:2000],
                      json.dumps(dict(report.tool_usage)), attempt))]
            if job:
                also.append(model_day_update(job, model, day, "completed", tries=tries,
                                             duration=time.monotonic() - started))
            result = await ledger.complete_attempt(attempt, also=also)
        except Cancelled:
            await ledger.void_attempt(attempt, "cancelled")
            if bus:
                await bus.publish("model_day.finished", job_id=job, model=model, date=day,
                                  status="cancelled", attempt=attempt)
            return DayOutcome("cancelled", tries, time.monotonic() - started,
                              error="the job was cancelled")
        except asyncio.CancelledError:
            await asyncio.shield(ledger.void_attempt(attempt, "interrupted"))
            raise
        except Exception as exc:  # any failure of one model-day fails that day, not the actor
            error = _describe(exc, day_limit)
            await ledger.void_attempt(attempt, error)
            log.warning("model_day_failed", model=model, date=day, try_number=tries,
                        error=error)
            if bus:
                await bus.publish("model_day.retry" if tries <= max_retries
                                  else "model_day.finished", job_id=job, model=model,
                                  date=day, attempt=attempt, error=error,
                                  **({} if tries <= max_retries else {"status": "failed"}))
            if tries <= max_retries:
                await sleep(base_delay * 2 ** (tries - 1))
            continue
        finally:
            runtime.attempt = None
        if bus:
            await bus.publish("model_day.finished", job_id=job, model=model, date=day,
                              status="completed", attempt=attempt, trades=result.trades,
                              duration=round(time.monotonic() - started, 4),
                              value=result.value_e4 / 10_000,
                              return_pct=result.return_pct)
        return DayOutcome("completed", tries, time.monotonic() - started, result, report)
    return DayOutcome("failed", tries, time.monotonic() - started, error=error)


def _describe(exc: BaseException, limit: float) -> str:
    if isinstance(exc, AITraderError):
        return exc.message
    if isinstance(exc, TimeoutError):
        return f"the model-day did not finish within {limit:.0f} s"
    return f"{type(exc).__name__}: {str(exc)[:200]}"
