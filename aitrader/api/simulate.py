"""/simulate/*: handlers only validate input, post a command to the simulation, or read."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from aitrader.actors.messages import AnswerKind, JobRequest, TriggerAnswer
from aitrader.api import views
from aitrader.api.errors import json_body, query_int
from aitrader.api.keys import CACHE, SIMULATION, STORE
from aitrader.errors import InvalidInput, NotFound
from aitrader.store import jobs as jobstore
from aitrader.store.jobs import JobStatus

DEFAULT_CONFIG = "configs/default_config.json"


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
    if answer.kind == AnswerKind.CURRENT:
        return web.json_response(views.current(answer))
    assert answer.job is not None
    if answer.kind == AnswerKind.EXISTING:  # its progress: the one read a trigger makes
        view = await jobstore.job_view(request.app[STORE], answer.job.id, details=False)
        return web.json_response({**views.job(view), "message": answer.message})
    return web.json_response(views.accepted(answer), status=202,
                             headers={"Location": f"/simulate/status/{answer.job.id}"})


async def trigger(request: web.Request) -> web.Response:
    doc = await json_body(request, allowed={"config_path", "start_date", "end_date", "models"})
    return await _answer(request, await request.app[SIMULATION].trigger(_request(doc)))


async def status(request: web.Request) -> web.Response:
    job_id = request.match_info["job_id"]
    store = request.app[STORE]

    async def build() -> dict[str, Any]:
        return views.job(await jobstore.job_view(store, job_id))

    return await request.app[CACHE].get(f"job:{job_id}", "status", build)


async def current(request: web.Request) -> web.Response:
    details = _flag(request, "details")
    store = request.app[STORE]
    newest = await jobstore.newest_job_id(store)
    if newest is None:
        raise NotFound("no job has been run yet")
    return web.json_response(views.job(await jobstore.job_view(store, newest,
                                                               details=details)))


def _flag(request: web.Request, name: str) -> bool:
    raw = request.query.get(name, "false").lower()
    if raw not in ("true", "false", "1", "0"):
        raise InvalidInput(f"{name} must be true or false", field=name)
    return raw in ("true", "1")


async def jobs(request: web.Request) -> web.Response:
    limit = query_int(request, "limit", 20, 1, 100)
    offset = query_int(request, "offset", 0, 0, 10**9)
    assert limit is not None and offset is not None
    wanted = request.query.get("status")
    if wanted is not None and wanted not in set(JobStatus):
        raise InvalidInput(f"status must be one of {', '.join(JobStatus)}", field="status")
    found, total = await jobstore.job_views(
        request.app[STORE], status=JobStatus(wanted) if wanted else None, limit=limit,
        offset=offset)
    return web.json_response({"jobs": [views.job(v) for v in found], "total": total,
                              "limit": limit, "offset": offset})


async def cancel(request: web.Request) -> web.Response:
    job_id = request.match_info["job_id"]
    await request.app[SIMULATION].cancel(job_id)
    view = await jobstore.job_view(request.app[STORE], job_id, details=False)
    return web.json_response({**views.job(view), "message": "cancelling: the running "
                              "model-days stop at their next tool call and are voided"},
                             status=202)


async def retry(request: web.Request) -> web.Response:
    job_id = request.match_info["job_id"]
    return await _answer(request, await request.app[SIMULATION].retry(job_id))
