"""The supervisor: one task that owns every actor and creates every job, one message at a
time, so two simultaneous triggers can never create two jobs.

On start it recovers: attempts left running by a crash are voided, their model-days set back
to pending, and unfinished jobs continue where they were.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import attrs
import structlog

from aitrader.actors.actor import ModelActor, make_agent
from aitrader.actors.jobs import (
    ACTIVE,
    JobRow,
    create_job,
    get_job,
    jobs_with_status,
    model_days_of,
    outcome_of,
    set_job_status,
)
from aitrader.actors.messages import (
    ActorDone,
    CancelJob,
    CreateJob,
    JobRequest,
    RetryJob,
    RunDays,
)
from aitrader.config import ModelConfig, SimulationConfig, load_config, resolve_config_path
from aitrader.errors import AITraderError, Conflict, InvalidInput
from aitrader.events import EventBus
from aitrader.ledger import Ledger
from aitrader.market.calendar import Calendar, nyse, parse_date
from aitrader.market.prices import latest_trading_day
from aitrader.settings import Settings
from aitrader.store import Store

log = structlog.get_logger(__name__)


@attrs.frozen
class TriggerAnswer:
    kind: str  # accepted | existing | current
    job: JobRow | None = None
    message: str = ""
    last_simulation_date: str | None = None
    next_trading_day: str | None = None


class Supervisor:
    def __init__(self, *, store: Store, bus: EventBus, settings: Settings, configs_dir: Path,
                 max_concurrent_jobs: int = 1, env: dict[str, str] | None = None,
                 calendar: Calendar | None = None) -> None:
        self._store = store
        self._bus = bus
        self._settings = settings
        self._configs = configs_dir
        self._max_jobs = max_concurrent_jobs
        self._env = env
        self._cal = calendar or nyse()
        self._ledger = Ledger(store)
        self.inbox: asyncio.Queue[Any] = asyncio.Queue()
        self.actors: dict[str, ModelActor] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._waiting: dict[str, set[str]] = {}  # job -> models still working on it
        self._cancelled: set[str] = set()
        self._started = asyncio.Event()

    # -- the public face: post a message, await the reply ---------------------------------

    async def _ask(self, message_type: type, *args: Any) -> Any:
        reply: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        await self.inbox.put(message_type(*args, reply))
        return await reply

    async def trigger(self, request: JobRequest) -> TriggerAnswer:
        answer: TriggerAnswer = await self._ask(CreateJob, request)
        return answer

    async def cancel(self, job_id: str) -> JobRow:
        row: JobRow = await self._ask(CancelJob, job_id)
        return row

    async def retry(self, job_id: str) -> TriggerAnswer:
        answer: TriggerAnswer = await self._ask(RetryJob, job_id)
        return answer

    async def wait_started(self) -> None:
        await self._started.wait()

    # -- the task ---------------------------------------------------------------------------

    async def run(self) -> None:
        """Owns every actor task; returns (after stopping them) when cancelled."""
        try:
            await self._recover()
            self._started.set()
            while True:
                msg = await self.inbox.get()
                try:
                    await self._handle(msg)
                except AITraderError as exc:
                    if hasattr(msg, "reply") and not msg.reply.done():
                        msg.reply.set_exception(exc)
                except Exception as exc:  # never let one message take the supervisor down
                    log.exception("supervisor_message_failed", message=type(msg).__name__)
                    if hasattr(msg, "reply") and not msg.reply.done():
                        msg.reply.set_exception(exc)
        finally:
            await self._stop_actors()

    async def _stop_actors(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        for name, task in self._tasks.items():
            try:
                await task
            except asyncio.CancelledError:
                pass
            except Exception as exc:  # cleanup tries every actor
                log.warning("actor_stop_failed", model=name, error=str(exc))
        self._tasks.clear()

    async def _handle(self, msg: Any) -> None:
        if isinstance(msg, CreateJob):
            msg.reply.set_result(await self._create(msg.request))
        elif isinstance(msg, RetryJob):
            msg.reply.set_result(await self._retry(msg.job_id))
        elif isinstance(msg, CancelJob):
            msg.reply.set_result(await self._cancel(msg.job_id))
        elif isinstance(msg, ActorDone):
            await self._actor_done(msg)

    def _actor(self, signature: str) -> ModelActor:
        actor = self.actors.get(signature)
        if actor is None or self._tasks[signature].done():
            actor = ModelActor(signature, store=self._store, bus=self._bus,
                               settings=self._settings, report=self.inbox.put_nowait,
                               is_cancelled=self._cancelled.__contains__, env=self._env)
            self.actors[signature] = actor
            self._tasks[signature] = asyncio.create_task(actor.run(), name=f"actor:{signature}")
        return actor

    # -- jobs -------------------------------------------------------------------------------

    def _load(self, config_path: str) -> tuple[str, SimulationConfig]:
        path = resolve_config_path(self._configs, config_path)
        return f"{self._configs.name}/{path.relative_to(self._configs.resolve())}", \
            load_config(path)

    def _models(self, config: SimulationConfig, wanted: tuple[str, ...] | None
                ) -> list[ModelConfig]:
        if wanted is None:
            models = config.enabled
        else:
            models = []
            for sig in wanted:
                m = config.model(sig)
                if m is None:
                    raise InvalidInput(f"unknown model {sig[:64]!r}", field="models")
                if not m.enabled:
                    raise InvalidInput(f"model {sig!r} is disabled in the config",
                                       field="models")
                models.append(m)
        if not models:
            raise InvalidInput("no enabled models to run", field="models")
        for m in models:  # a model that cannot run (no key, bad class) is refused up front
            make_agent(m, config, store=self._store, ledger=self._ledger, env=self._env)
        return models

    async def _plan(self, config: SimulationConfig, models: list[ModelConfig],
                    start: str | None, end: str | None
                    ) -> tuple[dict[str, list[str]], dict[str, list[str]], date | None]:
        latest = await latest_trading_day(self._store)
        today = datetime.now(UTC).date()
        s = parse_date(start, field="start_date") if start else None
        e = parse_date(end, field="end_date") if end else None
        for value, field in ((s, "start_date"), (e, "end_date")):
            if value and value > today:
                raise InvalidInput(f"{field} {value} is in the future", field=field)
        if s and e and e < s:
            raise InvalidInput("end_date is before start_date", field="end_date")
        if latest is None:
            raise InvalidInput("there are no prices yet; generate the demo market or import "
                               "prices first", field="config_path")
        days: dict[str, list[str]] = {}
        skipped: dict[str, list[str]] = {}
        for m in models:
            init = date.fromisoformat(config.date_range.init_date)
            last = await self._ledger.last_completed(m.signature)
            done_until = max(init, last) if last else init
            lo = s or (self._cal.next(done_until) or done_until)
            hi = min(e or latest, latest)
            if config.date_range.end_date and not e:
                hi = min(hi, date.fromisoformat(config.date_range.end_date))
            sessions = [d for d in self._cal.between(lo, hi)]
            run = [d.isoformat() for d in sessions if d > done_until]
            skip = [d.isoformat() for d in sessions if d <= done_until]
            if run:
                days[m.signature] = run
            if skip:
                skipped[m.signature] = skip
        return days, skipped, latest

    async def _create(self, req: JobRequest) -> TriggerAnswer:
        path, config = self._load(req.config_path)
        models = self._models(config, req.models)
        days, skipped, latest = await self._plan(config, models, req.start_date, req.end_date)
        active = await jobs_with_status(self._store, ACTIVE)
        if not days:
            lasts = [await self._ledger.last_completed(m.signature) for m in models]
            last = min((d for d in lasts if d), default=None)
            nxt = self._cal.next(latest) if latest else None
            return TriggerAnswer("current", message="every model is up to date with the "
                                 "latest trading day with data",
                                 last_simulation_date=last.isoformat() if last else None,
                                 next_trading_day=nxt.isoformat() if nxt else None)
        wanted = sorted(days)
        span = (min(d for ds in days.values() for d in ds),
                max(d for ds in days.values() for d in ds))
        for job in active:
            if job.config_path == path and list(job.models) == wanted and \
                    (job.date_start, job.date_end) == span:
                return TriggerAnswer("existing", job, "the same work is already "
                                     f"{job.status}")
        busy = [j for j in active if set(j.models) & set(wanted)]
        if busy or len(active) >= self._max_jobs:
            current = (busy or active)[0]
            raise Conflict("other work is running: wait for it or cancel it",
                           current_job_id=current.id,
                           current_date_range=[current.date_start, current.date_end])
        job = await create_job(self._store, config_path=path, days=days, skipped=skipped)
        await self._bus.publish("job.created", job_id=job.id, models=wanted,
                                date_range=list(span))
        await self._start(job, config, days)
        return TriggerAnswer("accepted", await get_job(self._store, job.id),
                             f"simulating {sum(len(d) for d in days.values())} model-days")

    async def _start(self, job: JobRow, config: SimulationConfig,
                     days: Mapping[str, list[str]]) -> None:
        await set_job_status(self._store, job.id, "running")
        await self._bus.publish("job.status", job_id=job.id, status="running")
        self._waiting[job.id] = set(days)
        for sig, ds in days.items():
            model = config.model(sig)
            assert model is not None
            await self._actor(sig).mailbox.put(RunDays(job.id, tuple(ds), model, config))

    async def _actor_done(self, msg: ActorDone) -> None:
        waiting = self._waiting.get(msg.job_id)
        if waiting is None:
            return
        waiting.discard(msg.model)
        if waiting:
            return
        del self._waiting[msg.job_id]
        statuses = [s for _, _, s in await model_days_of(self._store, msg.job_id)]
        status = outcome_of(statuses, msg.job_id in self._cancelled)
        self._cancelled.discard(msg.job_id)
        await set_job_status(self._store, msg.job_id, status)
        await self._bus.publish("job.finished", job_id=msg.job_id, status=status)
        log.info("job_finished", job_id=msg.job_id, status=status)

    async def _cancel(self, job_id: str) -> JobRow:
        job = await get_job(self._store, job_id)
        if job.status not in ACTIVE:
            raise Conflict(f"job {job_id} is already {job.status}", status=job.status)
        self._cancelled.add(job_id)
        for actor in self.actors.values():
            if actor.runtime.job_id == job_id:
                actor.runtime.cancel_requested = True
        await self._bus.publish("job.status", job_id=job_id, status="cancelling")
        return job

    async def _retry(self, job_id: str) -> TriggerAnswer:
        job = await get_job(self._store, job_id)
        if job.status in ACTIVE:
            raise Conflict(f"job {job_id} is still {job.status}")
        again = sorted({m for m, _, _ in await model_days_of(
            self._store, job_id, statuses=("failed", "cancelled"))})
        if not again:
            raise InvalidInput(f"job {job_id} has no failed or cancelled model-days")
        return await self._create(JobRequest(job.config_path or "", None, job.date_end,
                                             tuple(again)))

    # -- recovery ---------------------------------------------------------------------------

    async def _recover(self) -> None:
        voided = await self._ledger.void_running("recovered after a restart")
        async with self._store.write() as conn:
            await conn.execute(
                "UPDATE model_days SET status = 'pending' WHERE status = 'running'")
        for job in await jobs_with_status(self._store, ACTIVE):
            try:
                _, config = self._load(job.config_path or "")
            except AITraderError as exc:
                await set_job_status(self._store, job.id, "failed",
                                     error=f"cannot resume: {exc.message}")
                continue
            pending: dict[str, list[str]] = {}
            for model, day, _ in await model_days_of(self._store, job.id,
                                                     statuses=("pending",)):
                pending.setdefault(model, []).append(day)
            log.info("job_resumed", job_id=job.id, voided_attempts=len(voided),
                     model_days=sum(len(v) for v in pending.values()))
            await self._bus.publish("job.status", job_id=job.id, status="resumed")
            if pending:
                await self._start(job, config, pending)
            else:
                self._waiting[job.id] = set()
                await self._actor_done(ActorDone(job.id, ""))
