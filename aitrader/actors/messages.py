"""Messages between the supervisor and the actors: frozen values, replies through futures."""

from __future__ import annotations

import asyncio
from typing import Any

import attrs

from aitrader.config import ModelConfig, SimulationConfig


@attrs.frozen
class JobRequest:
    config_path: str = "configs/default_config.json"
    start_date: str | None = None
    end_date: str | None = None
    models: tuple[str, ...] | None = None  # signatures; None = every enabled model


@attrs.frozen
class CreateJob:
    request: JobRequest
    reply: asyncio.Future[Any]


@attrs.frozen
class RetryJob:
    job_id: str
    reply: asyncio.Future[Any]


@attrs.frozen
class CancelJob:
    job_id: str
    reply: asyncio.Future[Any]


@attrs.frozen
class RunDays:
    """To an actor: run these dates of this job, in order."""

    job_id: str
    days: tuple[str, ...]
    model: ModelConfig
    config: SimulationConfig


@attrs.frozen
class ActorDone:
    """From an actor: it has finished (or stopped) its part of a job."""

    job_id: str
    model: str


@attrs.frozen
class Stop:
    pass
