"""The supervisor: one task that owns every actor and creates every job, one message at a
time (so two simultaneous triggers can never create two jobs), from one typed inbox
(`messages.Inbox`). It owns every task it starts and stops them all when it stops. Whatever
escapes an actor is logged with its traceback; the actor cleans up (its open attempt voided,
its open model-days failed with the error) and runs again. A job ends when every actor on it
has reported; none of its model-days is then left pending or running.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Coroutine, Mapping
from functools import partial
from typing import Any

import attrs
import structlog

from aitrader.actors.actor import ModelActor
from aitrader.actors.admission import Admission
from aitrader.actors.messages import (
    AnswerKind,
    BatchDone,
    CancelJob,
    CreateJob,
    Inbox,
    JobRequest,
    RetryJob,
    RunDays,
    TriggerAnswer,
    answer,
)
from aitrader.actors.modelday import describe
from aitrader.actors.recovery import recover
from aitrader.agent.providers import Providers
from aitrader.config import SimulationConfig
from aitrader.errors import Conflict
from aitrader.events import EventBus
from aitrader.settings import Settings
from aitrader.store import Store, until_done
from aitrader.store import jobs as jobstore
from aitrader.store.jobs import JobRow

log = structlog.get_logger(__name__)

MAX_COMMANDS = 256


@attrs.define
class _Job:
    """A running job: the models still working on it, and its cancel signal."""

    id: str
    waiting: set[str]
    cancel: asyncio.Event = attrs.Factory(asyncio.Event)


class Supervisor:
    def __init__(self, *, store: Store, bus: EventBus, settings: Settings,
                 env: Mapping[str, str] | None = None,
                 max_commands: int = MAX_COMMANDS) -> None:
        self._store = store
        self._bus = bus
        self._settings = settings
        self._env = dict(os.environ if env is None else env)
        self._admission = Admission(store=store, configs_dir=settings.configs_dir,
                                    env=self._env, max_jobs=settings.max_concurrent_jobs)
        self._inbox = Inbox(max_commands)
        self.providers = Providers()  # every LLM provider's limits, shared by the actors
        self.actors: dict[str, ModelActor] = {}
        self._jobs: dict[str, _Job] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = False
        self._started = asyncio.Event()

    # -- the public face: post a command, await the reply -----------------------------------

    async def trigger(self, request: JobRequest) -> TriggerAnswer:
        return await self._inbox.ask(lambda reply: CreateJob(request, reply))

    async def retry(self, job_id: str) -> TriggerAnswer:
        return await self._inbox.ask(lambda reply: RetryJob(job_id, reply))

    async def cancel(self, job_id: str) -> JobRow:
        return await self._inbox.ask(lambda reply: CancelJob(job_id, reply))

    async def wait_started(self) -> None:
        await self._started.wait()

    # -- the task ---------------------------------------------------------------------------

    async def run(self) -> None:
        """Recover, then handle messages until cancelled; stops every task it owns."""
        try:
            for job in await recover(self._store, self._bus, self._admission, self._env):
                await self._start(job.id, job.config, job.days)
            self._started.set()
            while True:
                match await self._inbox.get():
                    case BatchDone() as done:
                        self._batch_done(done)
                    case CreateJob(request, reply):
                        await answer(reply, self._create(request))
                    case RetryJob(job_id, reply):
                        await answer(reply, self._retry(job_id))
                    case CancelJob(job_id, reply):
                        await answer(reply, self._cancel(job_id))
        finally:
            self._stopping = True
            tasks = list(self._tasks)
            for task in tasks:
                task.cancel()
            for result in await asyncio.gather(*tasks, return_exceptions=True):
                if isinstance(result, Exception):  # cleanup tries every task
                    log.warning("task_stop_failed", error=repr(result))

    async def _tell(self, type: str, **data: Any) -> None:
        """Publish an event that must not be lost (retried while the database is locked)."""
        await until_done(partial(self._bus.publish, type, **data), what=f"publish {type}")

    def _own(self, work: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- actors -----------------------------------------------------------------------------

    def _actor(self, signature: str) -> ModelActor:
        actor = self.actors.get(signature)
        if actor is None:
            actor = self.actors[signature] = ModelActor(
                signature, store=self._store, bus=self._bus, settings=self._settings,
                env=self._env, report=self._inbox.report, providers=self.providers)
            self._own(self._supervise(actor), name=f"actor:{signature}")
        return actor

    async def _supervise(self, actor: ModelActor) -> None:
        """Run the actor; whatever escapes it is logged and cleaned up, and it runs again."""
        while True:
            try:
                await actor.run()
                return
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if self._stopping or task is None:
                    raise
                task.uncancel()  # not its owner's doing: a crash like any other
                exc: BaseException = RuntimeError("the actor's task was cancelled from outside")
            except Exception as error:
                exc = error
            log.error("actor_crashed", model=actor.signature, exc_info=exc)
            await actor.clean_up_after(exc)
            await self._tell("actor.restarted", model=actor.signature, error=describe(exc))

    # -- jobs -------------------------------------------------------------------------------

    async def _create(self, request: JobRequest) -> TriggerAnswer:
        decision = await self._admission.admit(request)
        if isinstance(decision, TriggerAnswer):
            return decision
        plan = decision.plan
        job = await jobstore.create_job(self._store, config_path=decision.config_path,
                                        days=plan.days, skipped=plan.skipped)
        await self._tell("job.created", job_id=job.id, models=list(job.models),
                         date_range=[job.date_start, job.date_end])
        await self._start(job.id, decision.config, plan.days)
        return TriggerAnswer(AnswerKind.ACCEPTED, job, f"simulating {plan.total} model-days")

    async def _start(self, job_id: str, config: SimulationConfig,
                     days: Mapping[str, tuple[str, ...]]) -> None:
        job = self._jobs[job_id] = _Job(job_id, set(days))
        await self._tell("job.status", job_id=job_id, status="running")
        for signature, ds in days.items():
            model = config.model(signature)
            assert model is not None, "admission and recovery only plan models in the config"
            self._actor(signature).mailbox.put_nowait(
                RunDays(job_id, tuple(ds), model, config, job.cancel))

    def _batch_done(self, done: BatchDone) -> None:
        job = self._jobs.get(done.job_id)
        if job is None:
            return
        job.waiting.discard(done.model)
        if not job.waiting:
            del self._jobs[job.id]
            self._own(self._finish(job.id, cancelled=job.cancel.is_set()),
                      name=f"finish:{job.id}")

    async def _finish(self, job_id: str, *, cancelled: bool) -> None:
        status, stranded = await until_done(
            lambda: jobstore.finish_job(self._store, job_id, cancelled=cancelled),
            what="finish the job")
        if stranded:
            log.error("model_days_stranded", job_id=job_id, count=stranded)
        await self._tell("job.finished", job_id=job_id, status=status.value)
        log.info("job_finished", job_id=job_id, status=status.value)

    async def _cancel(self, job_id: str) -> JobRow:
        row = await jobstore.get_job(self._store, job_id)
        if not row.active:
            raise Conflict(f"job {job_id} is already {row.status}", status=row.status.value)
        job = self._jobs.get(job_id)
        if job is not None:
            job.cancel.set()  # the one signal every actor on the job reads
        else:  # running in the database, but no actor has it: end it here
            self._own(self._finish(job_id, cancelled=True), name=f"finish:{job_id}")
        await self._bus.publish("job.status", job_id=job_id, status="cancelling")
        return row

    async def _retry(self, job_id: str) -> TriggerAnswer:
        return await self._create(await self._admission.retry_request(job_id))
