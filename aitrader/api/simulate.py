"""/simulate/*: handlers only validate input, post a message to the supervisor, or read."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from aitrader.actors.jobs import FINISHED, job_view, job_view_json
from aitrader.actors.messages import JobRequest
from aitrader.actors.supervisor import TriggerAnswer
from aitrader.api.errors import json_body
from aitrader.api.keys import CACHE, STORE, SUPERVISOR
from aitrader.errors import InvalidInput, NotFound
from aitrader.store import scalar

DEFAULT_CONFIG = "configs/default_config.json"
JOB_STATUSES = ("pending", "running", *FINISHED)


def _string(doc: dict[str, Any], name: str) -> str | None:
    value = doc.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{name} must be a non-empty string (or left out)", field=name)
    return value


def _request(doc: dict[str, Any]) -> JobRequest:
    models = doc.get("models")
    if models is not None:
        if not isinstance(models, list) or not all(isinstance(m, str) for m in models) \
                or len(models) > 200:
            raise InvalidInput("models must be a list of model signatures", field="models")
        models = tuple(models)
    return JobRequest(_string(doc, "config_path") or DEFAULT_CONFIG,
                      _string(doc, "start_date"), _string(doc, "end_date"), models)


async def _answer(request: web.Request, answer: TriggerAnswer) -> web.Response:
    store = request.app[STORE]
    if answer.kind == "current":
        return web.json_response({"status": "current", "message": answer.message,
                                  "last_simulation_date": answer.last_simulation_date,
                                  "next_trading_day": answer.next_trading_day})
    assert answer.job is not None
    view = await job_view(store, answer.job.id, details=False)
    if answer.kind == "existing":
        return web.json_response({**view, "message": answer.message})
    body = {"job_id": view["job_id"], "status": "accepted", "date_range": view["date_range"],
            "models": view["models"], "created_at": view["created_at"],
            "message": answer.message}
    return web.json_response(body, status=202,
                             headers={"Location": f"/simulate/status/{view['job_id']}"})


async def trigger(request: web.Request) -> web.Response:
    doc = await json_body(request, allowed={"config_path", "start_date", "end_date", "models"})
    return await _answer(request, await request.app[SUPERVISOR].trigger(_request(doc)))


async def status(request: web.Request) -> web.Response:
    job_id = request.match_info["job_id"]
    store = request.app[STORE]
    return await request.app[CACHE].get(f"job:{job_id}", "status",
                                        lambda: job_view_json(store, job_id))


async def current(request: web.Request) -> web.Response:
    details = _flag(request, "details")
    store = request.app[STORE]
    async with store.read() as conn:
        newest = await scalar(conn, "SELECT id FROM jobs ORDER BY created_at DESC, rowid DESC "
                                    "LIMIT 1")
    if newest is None:
        raise NotFound("no job has been run yet")
    return web.json_response(await job_view(store, newest, details=details))


def _flag(request: web.Request, name: str) -> bool:
    raw = request.query.get(name, "false").lower()
    if raw not in ("true", "false", "1", "0"):
        raise InvalidInput(f"{name} must be true or false", field=name)
    return raw in ("true", "1")


def _int(request: web.Request, name: str, default: int, lo: int, hi: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not lo <= int(raw) <= hi:
        raise InvalidInput(f"{name} must be a whole number from {lo} to {hi}", field=name)
    return int(raw)


async def jobs(request: web.Request) -> web.Response:
    limit = _int(request, "limit", 20, 1, 100)
    offset = _int(request, "offset", 0, 0, 10**9)
    wanted = request.query.get("status")
    if wanted is not None and wanted not in JOB_STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(JOB_STATUSES)}", field="status")
    store = request.app[STORE]
    where, params = ("WHERE status = ?", [wanted]) if wanted else ("", [])
    async with store.read() as conn:
        total = await scalar(conn, f"SELECT COUNT(*) FROM jobs {where}", tuple(params))
        cur = await conn.execute(
            f"SELECT id FROM jobs {where} ORDER BY created_at DESC, rowid DESC "
            "LIMIT ? OFFSET ?", (*params, limit, offset))
        ids = [r[0] for r in await cur.fetchall()]
    views = [await job_view(store, i, details=False) for i in ids]
    return web.json_response({"jobs": views, "total": total, "limit": limit,
                              "offset": offset})


async def cancel(request: web.Request) -> web.Response:
    job_id = request.match_info["job_id"]
    await request.app[SUPERVISOR].cancel(job_id)
    view = await job_view(request.app[STORE], job_id, details=False)
    return web.json_response({**view, "message": "cancelling: the running model-days stop "
                              "at their next tool call and are voided"}, status=202)


async def retry(request: web.Request) -> web.Response:
    job_id = request.match_info["job_id"]
    return await _answer(request, await request.app[SUPERVISOR].retry(job_id))
