"""What travels between the API, the supervisor and the actors: frozen values. A command that
needs an answer carries the future its reply (or its domain error) comes back through."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import TypeVar

import attrs
import structlog

from aitrader.config import ModelConfig, SimulationConfig
from aitrader.errors import AITraderError, Unavailable
from aitrader.store.jobs import JobRow

log = structlog.get_logger(__name__)

T = TypeVar("T")


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


class Inbox:
    """The supervisor's inbox. Commands are bounded: beyond `max_commands` waiting, a caller
    is told at once to try again. Reports are always taken: an actor has at most one
    outstanding, so they are bounded by the actors."""

    def __init__(self, max_commands: int) -> None:
        self._queue: asyncio.Queue[Message] = asyncio.Queue()
        self._max = max_commands
        self._commands = 0

    async def ask(self, command: Callable[[asyncio.Future[T]], Command]) -> T:
        """Post a command and await its reply (or its error)."""
        if self._commands >= self._max:
            raise Unavailable("too many requests are waiting for the simulation; try again")
        reply: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._commands += 1
        self._queue.put_nowait(command(reply))
        return await reply

    def report(self, message: BatchDone) -> None:
        self._queue.put_nowait(message)

    async def get(self) -> Message:
        message = await self._queue.get()
        if not isinstance(message, BatchDone):
            self._commands -= 1
        return message


async def answer(reply: asyncio.Future[T], work: Awaitable[T]) -> None:
    """Settle a command's reply with what `work` returns or raises. A database that cannot
    be written (locked for too long, disk full) is 503 to the caller, not a failure."""
    try:
        result = await work
    except AITraderError as exc:
        reply.set_exception(exc)
    except sqlite3.OperationalError as exc:
        log.warning("command_failed", error=str(exc))
        reply.set_exception(Unavailable(f"the database cannot be written right now ({exc}); "
                                        "try again"))
    except Exception as exc:  # never let one command take the supervisor down
        log.exception("command_failed")
        reply.set_exception(exc)
    else:
        if not reply.done():
            reply.set_result(result)
