"""Jobs and their model-days: the one module that reads and writes the `jobs` and `model_days`
tables. Every status change of a job or a model-day goes through a function here.

Job status: running -> completed | partial | failed | cancelled (`pending` is kept for rows
written by older versions). Model-day status: pending -> running -> completed | failed |
cancelled, or skipped from the start. A model-day that has ended is never changed again:
every write below only touches open (pending or running) model-days, so a late or repeated
write cannot undo a completed day.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

import aiosqlite
import attrs

from aitrader.errors import NotFound
from aitrader.store.db import Store, scalar, utcnow


class JobStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    PARTIAL = "partial"
    FAILED = "failed"
    CANCELLED = "cancelled"


class DayStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"


ACTIVE = (JobStatus.PENDING, JobStatus.RUNNING)
FINISHED = (JobStatus.COMPLETED, JobStatus.PARTIAL, JobStatus.FAILED, JobStatus.CANCELLED)
OPEN = (DayStatus.PENDING, DayStatus.RUNNING)

Statement = tuple[str, tuple[Any, ...]]


@attrs.frozen
class JobRow:
    id: str
    status: JobStatus
    config_path: str | None
    date_start: str | None
    date_end: str | None
    models: tuple[str, ...]
    created_at: str
    started_at: str | None
    updated_at: str
    completed_at: str | None
    error: str | None

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @property
    def total_duration_seconds(self) -> float | None:
        if not self.started_at or not self.completed_at:
            return None
        return round((_instant(self.completed_at) - _instant(self.started_at)).total_seconds(), 3)


@attrs.frozen
class DayRow:
    date: str
    model: str
    status: DayStatus
    duration_seconds: float | None
    error: str | None


@attrs.frozen
class Progress:
    total_model_days: int
    completed: int
    failed: int
    pending: int
    running: int
    cancelled: int
    skipped: int
    current: tuple[tuple[str, str], ...]  # (date, model) of the running model-days


@attrs.frozen
class JobView:
    job: JobRow
    progress: Progress
    details: tuple[DayRow, ...] | None = None


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


_JOB_COLS = ("id, status, config_path, date_start, date_end, models, created_at, started_at, "
             "updated_at, completed_at, error")


def _job(row: Sequence[Any]) -> JobRow:
    return JobRow(row[0], JobStatus(row[1]), row[2], row[3], row[4],
                  tuple(json.loads(row[5])), *row[6:11])


def _day_row(cursor: sqlite3.Cursor, row: tuple[Any, ...]) -> DayRow:
    """A row factory: runs in the reader's thread, not on the event loop."""
    return DayRow(row[0], row[1], DayStatus(row[2]), row[3], row[4])


# -- jobs -----------------------------------------------------------------------------------

async def create_job(store: Store, *, config_path: str, days: Mapping[str, Sequence[str]],
                     skipped: Mapping[str, Sequence[str]] | None = None) -> JobRow:
    """A running job with a pending model-day per (model, date) to run and a skipped one per
    (model, date) already done, in one transaction."""
    now = utcnow()
    every = sorted({d for ds in days.values() for d in ds})
    job = JobRow(uuid.uuid4().hex, JobStatus.RUNNING, config_path,
                 every[0] if every else None, every[-1] if every else None,
                 tuple(sorted(days)), now, now, now, None, None)
    rows = [(job.id, m, d, DayStatus.PENDING.value) for m, ds in days.items() for d in ds]
    rows += [(job.id, m, d, DayStatus.SKIPPED.value)
             for m, ds in (skipped or {}).items() for d in ds]
    async with store.write() as conn:
        await conn.execute(
            f"INSERT INTO jobs ({_JOB_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL)",
            (job.id, job.status.value, config_path, job.date_start, job.date_end,
             json.dumps(list(job.models)), now, now, now))
        await conn.executemany(
            "INSERT INTO model_days (job_id, model, date, status) VALUES (?, ?, ?, ?)", rows)
    return job


async def get_job(store: Store, job_id: str) -> JobRow:
    async with store.read() as conn:
        return await _get_job(conn, job_id)


async def _get_job(conn: aiosqlite.Connection, job_id: str) -> JobRow:
    cur = await conn.execute(f"SELECT {_JOB_COLS} FROM jobs WHERE id = ?", (job_id,))
    row = await cur.fetchone()
    if row is None:
        raise NotFound(f"no job {job_id[:64]!r}", job_id=job_id[:64])
    return _job(tuple(row))


async def active_jobs(store: Store) -> list[JobRow]:
    async with store.read() as conn:
        cur = await conn.execute(
            f"SELECT {_JOB_COLS} FROM jobs WHERE status IN (?, ?) ORDER BY created_at",
            tuple(s.value for s in ACTIVE))
        return [_job(tuple(r)) for r in await cur.fetchall()]


async def finish_job(store: Store, job_id: str, *, cancelled: bool) -> tuple[JobStatus, int]:
    """End a job whose actors are done: its status from its model-days, in one transaction.

    A model-day still open at this point was never run by anyone (a bug, or a crash between
    two writes): it is failed here, so an ended job never keeps a pending or running day.
    Returns the status and how many such model-days there were."""
    async with store.write() as conn:
        cur = await conn.execute(
            "UPDATE model_days SET status = ?, finished_at = ?, error = "
            "'not run: the job ended without running it' WHERE job_id = ? AND status IN (?, ?)",
            (DayStatus.FAILED.value, utcnow(), job_id, *(s.value for s in OPEN)))
        stranded = cur.rowcount
        cur = await conn.execute(
            "SELECT status, COUNT(*) FROM model_days WHERE job_id = ? GROUP BY status",
            (job_id,))
        counts = {DayStatus(s): n for s, n in await cur.fetchall()}
        status = outcome_of(counts, cancelled=cancelled)
        now = utcnow()
        await conn.execute(
            "UPDATE jobs SET status = ?, updated_at = ?, completed_at = ? WHERE id = ?",
            (status.value, now, now, job_id))
    return status, stranded


def outcome_of(counts: Mapping[DayStatus, int], *, cancelled: bool) -> JobStatus:
    """A finished job's status from how many of its model-days ended how."""
    if cancelled:
        return JobStatus.CANCELLED
    ran = {s: n for s, n in counts.items() if s != DayStatus.SKIPPED and n}
    if set(ran) <= {DayStatus.COMPLETED}:
        return JobStatus.COMPLETED
    if ran.get(DayStatus.COMPLETED):
        return JobStatus.PARTIAL
    return JobStatus.FAILED


# -- model-days -----------------------------------------------------------------------------

def day_running(job_id: str, model: str, day: str, attempt_id: int) -> Statement:
    """The statement that marks a model-day running with its attempt; it commits with the
    attempt's opening, so a running model-day always names its attempt."""
    return ("UPDATE model_days SET status = ?, attempt_id = ?, tries = tries + 1, "
            "started_at = COALESCE(started_at, ?), error = NULL "
            "WHERE job_id = ? AND model = ? AND date = ? AND status IN (?, ?)",
            (DayStatus.RUNNING.value, attempt_id, utcnow(), job_id, model, day,
             *(s.value for s in OPEN)))


def day_completed(job_id: str, model: str, day: str, duration: float) -> Statement:
    """The statement that marks a model-day completed; it commits with the ledger's
    end-of-day snapshot, so a completed day and its job can never disagree."""
    return ("UPDATE model_days SET status = ?, finished_at = ?, duration_seconds = ?, "
            "error = NULL WHERE job_id = ? AND model = ? AND date = ? AND status IN (?, ?)",
            (DayStatus.COMPLETED.value, utcnow(), round(duration, 4), job_id, model, day,
             *(s.value for s in OPEN)))


async def _open_days(conn: aiosqlite.Connection, job_id: str, model: str,
                     since: str) -> list[str]:
    cur = await conn.execute(
        "SELECT date FROM model_days WHERE job_id = ? AND model = ? AND date >= ? "
        "AND status IN (?, ?) ORDER BY date", (job_id, model, since, *(s.value for s in OPEN)))
    return [r[0] for r in await cur.fetchall()]


async def end_open_days(store: Store, job_id: str, model: str, status: DayStatus,
                        error: str | None, *, later_error: str | None = None,
                        duration: float | None = None,
                        since: str | None = None) -> list[tuple[str, str | None]]:
    """End every open model-day of `model` in the job (on or after `since`), in one
    transaction: the first gets `status`, `error` and `duration`; the later ones the same
    status with `later_error` (by default, for a failure: "not run: <first> failed", since
    their positions would depend on it). Returns the model-days ended with their errors, in
    date order."""
    async with store.write() as conn:
        days = await _open_days(conn, job_id, model, since or "")
        if not days:
            return []
        if later_error is None and status == DayStatus.FAILED:
            later_error = f"not run: {days[0]} failed"
        now = utcnow()
        ended = [(day, error if i == 0 else later_error) for i, day in enumerate(days)]
        await conn.executemany(
            "UPDATE model_days SET status = ?, finished_at = ?, error = ?, "
            "duration_seconds = COALESCE(?, duration_seconds) "
            "WHERE job_id = ? AND model = ? AND date = ?",
            [(status.value, now, why, duration if i == 0 else None, job_id, model, day)
             for i, (day, why) in enumerate(ended)])
        await conn.execute("UPDATE jobs SET updated_at = ? WHERE id = ?", (now, job_id))
    return ended


async def reopen_running_days(store: Store) -> int:
    """Recovery: model-days left running by a crash go back to pending (their attempts are
    voided separately). Returns how many."""
    async with store.write() as conn:
        cur = await conn.execute(
            "UPDATE model_days SET status = ? WHERE status = ?",
            (DayStatus.PENDING.value, DayStatus.RUNNING.value))
        return cur.rowcount


async def pending_days(store: Store, job_id: str) -> dict[str, list[str]]:
    """model -> its pending model-days in the job, in date order."""
    async with store.read() as conn:
        cur = await conn.execute(
            "SELECT model, date FROM model_days WHERE job_id = ? AND status = ? "
            "ORDER BY model, date", (job_id, DayStatus.PENDING.value))
        out: dict[str, list[str]] = {}
        for model, day in await cur.fetchall():
            out.setdefault(model, []).append(day)
        return out


async def models_to_retry(store: Store, job_id: str) -> list[str]:
    """The models with a failed or cancelled model-day in the job."""
    async with store.read() as conn:
        cur = await conn.execute(
            "SELECT DISTINCT model FROM model_days WHERE job_id = ? AND status IN (?, ?) "
            "ORDER BY model", (job_id, DayStatus.FAILED.value, DayStatus.CANCELLED.value))
        return [r[0] for r in await cur.fetchall()]


# -- views ----------------------------------------------------------------------------------

async def _progress(conn: aiosqlite.Connection, job_id: str) -> Progress:
    cur = await conn.execute(
        "SELECT status, COUNT(*) FROM model_days WHERE job_id = ? GROUP BY status", (job_id,))
    n = {DayStatus(s): c for s, c in await cur.fetchall()}
    cur = await conn.execute(
        "SELECT date, model FROM model_days WHERE job_id = ? AND status = ? "
        "ORDER BY date, model", (job_id, DayStatus.RUNNING.value))
    current = tuple((d, m) for d, m in await cur.fetchall())
    return Progress(
        total_model_days=sum(n.values()) - n.get(DayStatus.SKIPPED, 0),
        completed=n.get(DayStatus.COMPLETED, 0), failed=n.get(DayStatus.FAILED, 0),
        pending=n.get(DayStatus.PENDING, 0), running=n.get(DayStatus.RUNNING, 0),
        cancelled=n.get(DayStatus.CANCELLED, 0), skipped=n.get(DayStatus.SKIPPED, 0),
        current=current)


async def _details(conn: aiosqlite.Connection, job_id: str) -> tuple[DayRow, ...]:
    cur = await conn.execute(
        "SELECT date, model, status, duration_seconds, error FROM model_days "
        "WHERE job_id = ? ORDER BY date, model", (job_id,))
    cur.row_factory = _day_row  # type: ignore[assignment]  # built in the reader's thread
    return tuple(await cur.fetchall())  # type: ignore[arg-type]


async def job_view(store: Store, job_id: str, *, details: bool = True) -> JobView:
    """A job with its progress (and every model-day, with `details`), from one snapshot."""
    async with store.read() as conn:
        job = await _get_job(conn, job_id)
        return JobView(job, await _progress(conn, job_id),
                       await _details(conn, job_id) if details else None)


async def job_views(store: Store, *, status: JobStatus | None, limit: int,
                    offset: int) -> tuple[list[JobView], int]:
    """A page of jobs, newest first, without details, and how many match in all."""
    where, params = ("WHERE status = ?", [status.value]) if status else ("", [])
    async with store.read() as conn:
        total = await scalar(conn, f"SELECT COUNT(*) FROM jobs {where}", tuple(params))
        cur = await conn.execute(
            f"SELECT {_JOB_COLS} FROM jobs {where} ORDER BY created_at DESC, rowid DESC "
            "LIMIT ? OFFSET ?", (*params, limit, offset))
        rows = [_job(tuple(r)) for r in await cur.fetchall()]
        return [JobView(job, await _progress(conn, job.id)) for job in rows], int(total)


async def newest_job_id(store: Store) -> str | None:
    async with store.read() as conn:
        found = await scalar(
            conn, "SELECT id FROM jobs ORDER BY created_at DESC, rowid DESC LIMIT 1")
        return str(found) if found is not None else None
