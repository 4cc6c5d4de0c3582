"""One model-day as an attempt: open it, let the agent trade, commit it or void it.

A model-day ends in exactly one transaction (complete: end-of-day snapshot, P&L and the
job's model-day row together) or is voided (its trades removed in one transaction). A failed
try is retried up to `max_retries` times with exponential backoff, each retry from the same
baseline because the failed try was voided first. When the last try fails, the day and the
model's later days in the job end `failed` (their positions would depend on it); a cancel
voids the running try and ends the day and the later ones `cancelled`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import attrs
import structlog

from aitrader import failpoints, markets
from aitrader.agent.base import DayContext, SessionReport
from aitrader.agent.toolbox import Cancelled, ToolBox
from aitrader.errors import AITraderError
from aitrader.events import EventBus
from aitrader.ledger import DayResult, Ledger
from aitrader.markets import Market
from aitrader.store import Store
from aitrader.store import jobs as jobstore
from aitrader.store.jobs import DayStatus
from aitrader.tools.identity import Identity, new_key

log = structlog.get_logger(__name__)


@attrs.define
class Runtime:
    """The actor's own runtime config: who it is, which job and model-day it is in right now,
    and that job's cancel signal. Its MCP sessions read it on every request (identity
    headers); its tool box reads the cancel signal before every call."""

    model: str
    job_id: str | None = None
    date: str | None = None
    attempt: int | None = None
    key: str | None = attrs.field(default=None, repr=False)  # the attempt's session key
    cancel: asyncio.Event | None = None

    def identity(self) -> Identity | None:
        if self.date is None:
            return None
        return Identity(self.model, self.date, self.job_id, self.attempt, self.key)

    def cancelled(self) -> bool:
        return self.cancel is not None and self.cancel.is_set()


class Agent(Protocol):
    async def run_trading_session(self, day: DayContext, tools: ToolBox) -> SessionReport: ...


@attrs.frozen
class DayOutcome:
    status: DayStatus  # completed | failed | cancelled
    tries: int
    duration_seconds: float
    result: DayResult | None = None
    report: SessionReport | None = None
    error: str | None = None


async def end_days(store: Store, bus: EventBus, job_id: str, model: str, status: DayStatus,
                   error: str | None, **kw: Any) -> list[tuple[str, str | None]]:
    """End the model's open days in the job (`store.jobs.end_open_days`) and tell viewers."""
    ended = await jobstore.end_open_days(store, job_id, model, status, error, **kw)
    for day, why in ended:
        await bus.publish("model_day.finished", job_id=job_id, model=model, date=day,
                          status=status.value, error=why)
    return ended


async def run_model_day(
    *,
    store: Store,
    ledger: Ledger,
    agent: Agent,
    tools: ToolBox,
    runtime: Runtime,
    day: str,
    bus: EventBus,
    max_retries: int = 3,
    base_delay: float = 1.0,
    day_limit: float = 900.0,
    market: Market | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> DayOutcome:
    started = time.monotonic()
    model, job = runtime.model, runtime.job_id
    prev = (market or markets.get()).previous_session(day)
    error = ""
    tries = 0
    for tries in range(1, max_retries + 2):
        attempt: int | None = None
        try:
            await tools.ensure_open()  # a session that broke on an earlier try is reopened
            key = new_key()
            attempt = await ledger.open_attempt(
                model, day, job_id=job, key=key,
                also=(lambda a: [jobstore.day_running(job, model, day, a)]) if job else None)
            runtime.date, runtime.attempt, runtime.key = day, attempt, key
            await bus.publish("model_day.started", job_id=job, model=model, date=day,
                              attempt=attempt, try_number=tries)
            ctx = DayContext(model, day, prev.id if prev else None,
                             await ledger.position(attempt), job, attempt,
                             market or markets.get())
            report = await asyncio.wait_for(agent.run_trading_session(ctx, tools), day_limit)
            if runtime.cancelled():
                raise Cancelled("the job was cancelled")
            result = await ledger.complete_attempt(
                attempt, report=report.for_ledger(),
                also=[jobstore.day_completed(job, model, day, time.monotonic() - started)]
                if job else ())
        except Cancelled:
            if attempt is not None:
                await ledger.void_attempt(attempt, "cancelled")
            if job:
                await end_days(store, bus, job, model, DayStatus.CANCELLED,
                               "the job was cancelled")
            return DayOutcome(DayStatus.CANCELLED, tries, time.monotonic() - started,
                              error="the job was cancelled")
        except asyncio.CancelledError:
            if attempt is not None:  # a shutdown: voided now, or by recovery on the next start
                await asyncio.shield(ledger.void_attempt(attempt, "interrupted"))
            raise
        except Exception as exc:  # any failure of one try fails that try, not the actor
            error = describe(exc, day_limit)
            if attempt is not None:
                await ledger.void_attempt(attempt, error)
            log.warning("model_day_failed", date=day, try_number=tries, error=error)
            if tries <= max_retries:
                await bus.publish("model_day.retry", job_id=job, model=model, date=day,
                                  attempt=attempt, error=error)
                await sleep(base_delay * 2 ** (tries - 1))
            continue
        finally:
            runtime.attempt = runtime.key = None
        failpoints.hit("model_day.committed")
        await bus.publish("model_day.finished", job_id=job, model=model, date=day,
                          status="completed", attempt=attempt, trades=result.trades,
                          duration=round(time.monotonic() - started, 4),
                          value=float(result.value), return_pct=result.return_pct)
        return DayOutcome(DayStatus.COMPLETED, tries, time.monotonic() - started, result,
                          report)
    if job:
        await end_days(store, bus, job, model, DayStatus.FAILED, error,
                       duration=round(time.monotonic() - started, 4))
    return DayOutcome(DayStatus.FAILED, tries, time.monotonic() - started, error=error)


def describe(exc: BaseException, limit: float | None = None) -> str:
    """An error as the API shows it: a domain error's message, else the exception's type and
    text (never a traceback; that goes to the log)."""
    if isinstance(exc, AITraderError):
        return exc.message
    if isinstance(exc, TimeoutError) and limit is not None:
        return f"the model-day did not finish within {limit:.0f} s"
    return f"{type(exc).__name__}: {str(exc)[:200]}"
