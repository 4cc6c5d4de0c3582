"""What travels between the API, the supervisor and the actors: frozen values. A command that
needs an answer carries the future its reply (or its domain error) comes back through."""

from __future__ import annotations

import asyncio
from enum import StrEnum
from typing import Any

import attrs

from aitrader.config import ModelConfig, SimulationConfig
from aitrader.store.jobs import JobRow


@attrs.frozen
class JobRequest:
    config_path: str = "configs/default_config.json"
    start_date: str | None = None
    end_date: str | None = None
    models: tuple[str, ...] | None = None  # signatures; None = every enabled model


class AnswerKind(StrEnum):
    ACCEPTED = "accepted"  # a new job
    EXISTING = "existing"  # the same work is already running: that job
    CURRENT = "current"  # nothing to do


@attrs.frozen
class TriggerAnswer:
    kind: AnswerKind
    job: JobRow | None = None
    message: str = ""
    last_simulation_date: str | None = None
    next_trading_day: str | None = None


# -- commands: to the supervisor, answered through `reply` ------------------------------------

@attrs.frozen
class CreateJob:
    request: JobRequest
    reply: asyncio.Future[TriggerAnswer]


@attrs.frozen
class RetryJob:
    job_id: str
    reply: asyncio.Future[TriggerAnswer]


@attrs.frozen
class CancelJob:
    job_id: str
    reply: asyncio.Future[JobRow]


Command = CreateJob | RetryJob | CancelJob


# -- reports: to the supervisor, from an actor --------------------------------------------------

@attrs.frozen
class BatchDone:
    """An actor has ended every model-day of its part of a job (run, failed or cancelled)."""

    job_id: str
    model: str


Message = Command | BatchDone


# -- to an actor --------------------------------------------------------------------------------

@attrs.frozen
class RunDays:
    """Run these model-days of this job, in order. `cancel` is the job's: set once, by the
    supervisor, when the job is cancelled; the actor stops at its next tool call."""

    job_id: str
    days: tuple[str, ...]
    model: ModelConfig
    config: SimulationConfig
    cancel: asyncio.Event = attrs.field(eq=False)


@attrs.frozen
class Stop:
    pass


def reply_future() -> asyncio.Future[Any]:
    return asyncio.get_running_loop().create_future()
