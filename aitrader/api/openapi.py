"""The OpenAPI 3.1 document of API.md, served at /openapi.json, and /docs (Swagger UI from
packaged assets, no CDN)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp import web

from aitrader import __version__

STATIC = Path(__file__).parent / "static"

_DATE = {"type": "string", "format": "date", "pattern": r"^\d{4}-\d{2}-\d{2}$"}
_NULL_STR = {"type": ["string", "null"]}
_ERROR = {"type": "object", "required": ["error", "message"],
          "properties": {"error": {"type": "string"}, "message": {"type": "string"},
                         "details": {"type": "object"}}}
_CONFLICT = {"type": "object", "required": ["error", "message"],
             "properties": {"error": {"const": "conflict"}, "message": {"type": "string"},
                            "current_job_id": {"type": "string"},
                            "current_date_range": {"type": "array"},
                            "status": {"type": "string"}}}
_DETAIL = {"type": "object", "properties": {
    "date": {"type": "string"}, "model": {"type": "string"}, "status": {"type": "string"},
    "duration_seconds": {"type": ["number", "null"]}, "error": _NULL_STR}}
_PROGRESS = {"type": "object", "required": ["total_model_days", "completed", "failed",
                                            "pending", "current"],
             "properties": {"total_model_days": {"type": "integer"},
                            "completed": {"type": "integer"}, "failed": {"type": "integer"},
                            "pending": {"type": "integer"}, "running": {"type": "integer"},
                            "cancelled": {"type": "integer"}, "skipped": {"type": "integer"},
                            "current": {"type": "array", "items": {"type": "object"}},
                            "details": {"type": "array", "items": _DETAIL}}}
_JOB = {"type": "object", "required": ["job_id", "status", "date_range", "models", "progress"],
        "properties": {
            "job_id": {"type": "string"},
            "status": {"enum": ["pending", "running", "completed", "partial", "failed",
                                "cancelled"]},
            "date_range": {"type": "array", "items": {"type": "string"}},
            "models": {"type": "array", "items": {"type": "string"}},
            "config_path": _NULL_STR, "progress": _PROGRESS,
            "created_at": {"type": "string"}, "started_at": _NULL_STR,
            "updated_at": {"type": "string"}, "completed_at": _NULL_STR,
            "total_duration_seconds": {"type": ["number", "null"]}, "error": _NULL_STR,
            "message": {"type": "string"}}}
_ACCEPTED = {"type": "object", "required": ["job_id", "status", "date_range", "models"],
             "properties": {"job_id": {"type": "string"}, "status": {"const": "accepted"},
                            "date_range": {"type": "array"}, "models": {"type": "array"},
                            "created_at": {"type": "string"}, "message": {"type": "string"}}}
_CURRENT = {"type": "object", "required": ["status", "message"],
            "properties": {"status": {"const": "current"}, "message": {"type": "string"},
                           "last_simulation_date": _NULL_STR, "next_trading_day": _NULL_STR}}
_NULL_DATE = {"type": ["string", "null"], "format": "date", "pattern": r"^\d{4}-\d{2}-\d{2}$"}
_TRIGGER_BODY = {
    "type": "object", "additionalProperties": False,
    "description": "Every field is optional; null means the same as leaving it out.",
    "properties": {
        "config_path": {"type": ["string", "null"], "examples": ["configs/default_config.json"]},
        "start_date": _NULL_DATE, "end_date": _NULL_DATE,
        "models": {"type": ["array", "null"], "items": {"type": "string"}}}}
_METRICS = {"type": "object"}
_SERIES = {"type": "object", "properties": {
    "series": {"type": "array", "items": {"type": "object", "properties": {
        "date": {"type": "string"}, "portfolio_value": {"type": "number"},
        "daily_return_pct": {"type": "number"}}}},
    "metrics": _METRICS}}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    text = {400: "invalid input", 401: "missing or wrong bearer token", 404: "not found",
            409: "conflict", 413: "body too large", 415: "body is not JSON",
            503: "the simulation is not running (the service is starting or stopping)"}
    out = {str(c): _json(_CONFLICT if c == 409 else _ERROR, text[c]) for c in codes}
    return out


_JOB_ID = {"name": "job_id", "in": "path", "required": True, "schema": {"type": "string"}}


def _q(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema}


def document() -> dict[str, Any]:
    trigger_answers = {"202": _json(_ACCEPTED, "a new job"),
                       "200": _json({"oneOf": [_JOB, _CURRENT]},
                                    "the same work already running, or nothing to do")}
    return {
        "openapi": "3.1.0",
        "info": {"title": "aitrader", "version": __version__,
                 "description": "The AI-Trader benchmark as a service."},
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearer": []}, {}],
        "paths": {
            "/simulate/trigger": {"post": {
                "summary": "Trigger a simulation (catch-up without dates)",
                "requestBody": {"required": False,
                                "content": {"application/json": {"schema": _TRIGGER_BODY}}},
                "responses": {**trigger_answers, **_errors(400, 401, 409, 413, 415, 503)}}},
            "/simulate/status/{job_id}": {"get": {
                "summary": "A job's status and progress", "parameters": [_JOB_ID],
                "responses": {"200": _json(_JOB, "the job"), **_errors(401, 404)}}},
            "/simulate/current": {"get": {
                "summary": "The newest job",
                "parameters": [_q("details", {"enum": ["true", "false", "1", "0"]})],
                "responses": {"200": _json(_JOB, "the newest job"), **_errors(400, 401, 404)}}},
            "/simulate/jobs": {"get": {
                "summary": "Jobs, newest first",
                "parameters": [
                    _q("status", {"enum": ["pending", "running", "completed", "partial",
                                           "failed", "cancelled"]}),
                    _q("limit", {"type": "integer", "minimum": 1, "maximum": 100}),
                    _q("offset", {"type": "integer", "minimum": 0})],
                "responses": {"200": _json({"type": "object", "required": [
                    "jobs", "total", "limit", "offset"], "properties": {
                    "jobs": {"type": "array", "items": _JOB}, "total": {"type": "integer"},
                    "limit": {"type": "integer"}, "offset": {"type": "integer"}}}, "jobs"),
                    **_errors(400, 401)}}},
            "/simulate/jobs/{job_id}/cancel": {"post": {
                "summary": "Cancel a running job", "parameters": [_JOB_ID],
                "responses": {"202": _json(_JOB, "cancelling"), **_errors(401, 404, 409, 503)}}},
            "/simulate/jobs/{job_id}/retry": {"post": {
                "summary": "A new job for a job's failed and cancelled model-days",
                "parameters": [_JOB_ID],
                "responses": {**trigger_answers, **_errors(400, 401, 404, 409, 503)}}},
            "/results": {"get": {
                "summary": "Positions and P&L of a date",
                "parameters": [_q("date", _DATE), _q("model", {"type": "string"}),
                               _q("detail", {"enum": ["minimal", "full"]})],
                "responses": {"200": _json({"type": "object", "required": ["date", "results"],
                                            "properties": {"date": {"type": "string"},
                                                           "results": {"type": "array"}}},
                                           "results"), **_errors(400, 401, 404)}}},
            "/results/performance": {"get": {
                "summary": "Value series and metrics per model, with QQQ",
                "parameters": [_q("model", {"type": "string"}), _q("start_date", _DATE),
                               _q("end_date", _DATE)],
                "responses": {"200": _json({"type": "object", "required": [
                    "models", "benchmark"], "properties": {
                    "start_date": {"type": ["string", "null"]},
                    "end_date": {"type": ["string", "null"]},
                    "models": {"type": "object", "additionalProperties": _SERIES},
                    "benchmark": {"anyOf": [_SERIES, {"type": "null"}]}}},
                    "performance (empty, with a null benchmark, before any model has a "
                    "history)"), **_errors(400, 401, 404)}}},
            "/health": {"get": {
                "summary": "Health of the service and the tool servers", "security": [],
                "responses": {"200": _json({"type": "object"}, "healthy"),
                              "503": _json({"type": "object"}, "a part is down")}}},
            "/metrics": {"get": {
                "summary": "Prometheus metrics",
                "responses": {"200": {"description": "text format",
                                      "content": {"text/plain": {"schema": {
                                          "type": "string"}}}}, **_errors(401)}}},
        },
    }


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(document())


async def docs(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "docs.html")


def docs_routes(app: web.Application) -> None:
    app.router.add_get("/docs", docs)
    app.router.add_static("/docs/static", STATIC / "swagger-ui", show_index=False)
