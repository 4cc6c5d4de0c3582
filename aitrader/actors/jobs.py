"""Jobs and their model-days in the store: creation, state changes, and the status view.

Job status: pending -> running -> completed | partial | failed | cancelled.
Model-day status: pending, running, completed, failed, cancelled, skipped.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import aiosqlite
import attrs

from aitrader.errors import NotFound
from aitrader.store import Store, scalar, utcnow

ACTIVE = ("pending", "running")
FINISHED = ("completed", "partial", "failed", "cancelled")


@attrs.frozen
class JobRow:
    id: str
    status: str
    config_path: str | None
    date_start: str | None
    date_end: str | None
    models: tuple[str, ...]
    created_at: str
    started_at: str | None
    updated_at: str
    completed_at: str | None
    error: str | None

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> JobRow:
        return cls(row[0], row[1], row[2], row[3], row[4], tuple(json.loads(row[5])),
                   *row[6:11])


_JOB_COLS = ("id, status, config_path, date_start, date_end, models, created_at, started_at, "
             "updated_at, completed_at, error")


async def create_job(store: Store, *, config_path: str, days: Mapping[str, Sequence[str]],
                     skipped: Mapping[str, Sequence[str]] | None = None) -> JobRow:
    """A pending job with one pending model-day per (model, date)."""
    job_id = uuid.uuid4().hex
    now = utcnow()
    all_days = sorted({d for ds in days.values() for d in ds})
    models = sorted(days)
    async with store.write() as conn:
        await conn.execute(
            f"INSERT INTO jobs ({_JOB_COLS}) VALUES (?, 'pending', ?, ?, ?, ?, ?, NULL, ?, "
            "NULL, NULL)",
            (job_id, config_path, all_days[0] if all_days else None,
             all_days[-1] if all_days else None, json.dumps(models), now, now))
        rows = [(job_id, m, d, "pending") for m, ds in days.items() for d in ds]
        rows += [(job_id, m, d, "skipped") for m, ds in (skipped or {}).items() for d in ds]
        await conn.executemany(
            "INSERT INTO model_days (job_id, model, date, status) VALUES (?, ?, ?, ?)", rows)
    return await get_job(store, job_id)


async def get_job(store: Store, job_id: str) -> JobRow:
    async with store.read() as conn:
        return await _get_job(conn, job_id)


async def _get_job(conn: aiosqlite.Connection, job_id: str) -> JobRow:
    cur = await conn.execute(f"SELECT {_JOB_COLS} FROM jobs WHERE id = ?", (job_id,))
    row = await cur.fetchone()
    if row is None:
        raise NotFound(f"no job {job_id[:64]!r}", job_id=job_id[:64])
    return JobRow.from_row(tuple(row))


async def jobs_with_status(store: Store, statuses: Sequence[str]) -> list[JobRow]:
    marks = ",".join("?" * len(statuses))
    async with store.read() as conn:
        cur = await conn.execute(
            f"SELECT {_JOB_COLS} FROM jobs WHERE status IN ({marks}) ORDER BY created_at",
            tuple(statuses))
        return [JobRow.from_row(tuple(r)) for r in await cur.fetchall()]


async def set_job_status(store: Store, job_id: str, status: str, *,
                         error: str | None = None) -> None:
    now = utcnow()
    async with store.write() as conn:
        await conn.execute(
            "UPDATE jobs SET status = ?, updated_at = ?, "
            "started_at = CASE WHEN ? = 'running' THEN COALESCE(started_at, ?) "
            "ELSE started_at END, "
            "completed_at = CASE WHEN ? IN ('completed', 'partial', 'failed', 'cancelled') "
            "THEN ? ELSE completed_at END, error = COALESCE(?, error) WHERE id = ?",
            (status, now, status, now, status, now, error, job_id))


async def model_days_of(store: Store, job_id: str, model: str | None = None,
                        statuses: Sequence[str] | None = None) -> list[tuple[str, str, str]]:
    """(model, date, status) of a job, by model and date."""
    sql = "SELECT model, date, status FROM model_days WHERE job_id = ?"
    params: list[Any] = [job_id]
    if model:
        sql += " AND model = ?"
        params.append(model)
    if statuses:
        sql += f" AND status IN ({','.join('?' * len(statuses))})"
        params.extend(statuses)
    async with store.read() as conn:
        cur = await conn.execute(sql + " ORDER BY model, date", params)
        return [(r[0], r[1], r[2]) for r in await cur.fetchall()]


def model_day_update(job_id: str, model: str, day: str, status: str, *,
                     tries: int | None = None, duration: float | None = None,
                     error: str | None = None) -> tuple[str, tuple[Any, ...]]:
    """The UPDATE for one model-day's status (to run inside another transaction too)."""
    now = utcnow()
    return (
        "UPDATE model_days SET status = ?, "
        "started_at = CASE WHEN ? = 'running' THEN ? ELSE started_at END, "
        "finished_at = CASE WHEN ? != 'running' THEN ? ELSE finished_at END, "
        "tries = COALESCE(?, tries), duration_seconds = COALESCE(?, duration_seconds), "
        "error = ? WHERE job_id = ? AND model = ? AND date = ?",
        (status, status, now, status, now, tries, duration, error, job_id, model, day))


async def set_model_day(store: Store, job_id: str, model: str, day: str, status: str,
                        **kw: Any) -> None:
    sql, params = model_day_update(job_id, model, day, status, **kw)
    async with store.write() as conn:
        await conn.execute(sql, params)
        await conn.execute("UPDATE jobs SET updated_at = ? WHERE id = ?", (utcnow(), job_id))


def outcome_of(statuses: Sequence[str], cancelled: bool) -> str:
    """A finished job's status from its model-days."""
    if cancelled:
        return "cancelled"
    done = [s for s in statuses if s != "skipped"]
    if all(s == "completed" for s in done):
        return "completed"
    if any(s == "completed" for s in done):
        return "partial"
    return "failed"


def _seconds(a: str | None, b: str | None) -> float | None:
    if not a or not b:
        return None
    fa = datetime.fromisoformat(a.replace("Z", "+00:00"))
    fb = datetime.fromisoformat(b.replace("Z", "+00:00"))
    return round((fb - fa).total_seconds(), 3)


_DETAILS_JSON = (
    "SELECT json_group_array(json_object('date', date, 'model', model, 'status', status, "
    "'duration_seconds', duration_seconds, 'error', error)) FROM "
    "(SELECT * FROM model_days WHERE job_id = ? ORDER BY date, model)")


async def _progress(conn: aiosqlite.Connection, job_id: str) -> dict[str, Any]:
    """Counts and the running model-days, aggregated by SQLite (off the event loop)."""
    cur = await conn.execute(
        "SELECT status, COUNT(*) FROM model_days WHERE job_id = ? GROUP BY status", (job_id,))
    counts = {s: 0 for s in ("completed", "failed", "pending", "running", "cancelled",
                             "skipped")}
    counts.update({s: n for s, n in await cur.fetchall()})
    cur = await conn.execute(
        "SELECT date, model FROM model_days WHERE job_id = ? AND status = 'running' "
        "ORDER BY date, model", (job_id,))
    return {
        "total_model_days": sum(counts.values()) - counts["skipped"],
        "completed": counts["completed"], "failed": counts["failed"],
        "pending": counts["pending"], "running": counts["running"],
        "cancelled": counts["cancelled"], "skipped": counts["skipped"],
        "current": [{"date": d, "model": m} for d, m in await cur.fetchall()],
    }


def _head(job: JobRow) -> dict[str, Any]:
    return {
        "job_id": job.id, "status": job.status,
        "date_range": [d for d in (job.date_start, job.date_end) if d],
        "models": list(job.models), "config_path": job.config_path,
    }


def _tail(job: JobRow) -> dict[str, Any]:
    return {
        "created_at": job.created_at, "started_at": job.started_at,
        "updated_at": job.updated_at, "completed_at": job.completed_at,
        "total_duration_seconds": _seconds(job.started_at, job.completed_at),
        "error": job.error,
    }


async def job_view_json(store: Store, job_id: str) -> bytes:
    """The status document with its details, serialised. The per-model-day details (thousands
    of rows in a large job) are built as JSON by SQLite, off the event loop."""
    async with store.read() as conn:
        job = await _get_job(conn, job_id)
        progress = await _progress(conn, job_id)
        details = await scalar(conn, _DETAILS_JSON, (job_id,))
    head = json.dumps(_head(job))[:-1]
    prog = json.dumps(progress)[:-1]
    tail = json.dumps(_tail(job))[1:]
    return f'{head}, "progress": {prog}, "details": {details}}}, {tail}'.encode()


async def job_view(store: Store, job_id: str, *, details: bool = True) -> dict[str, Any]:
    """The status document of API.md for one job."""
    if details:
        doc: dict[str, Any] = json.loads(await job_view_json(store, job_id))
        return doc
    async with store.read() as conn:
        job = await _get_job(conn, job_id)
        progress = await _progress(conn, job_id)
    return {**_head(job), "progress": progress, **_tail(job)}

