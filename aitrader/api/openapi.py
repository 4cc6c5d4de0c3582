"""The OpenAPI 3.1 document of API.md, served at /openapi.json, and /docs (Swagger UI from
packaged assets, no CDN). Both are open without the token: they hold no data.

Every response body is a named schema in `components.schemas` (what a generated client turns
into its model classes), every array says what it holds, every operation has an
`operationId` and a tag, timestamps are `date-time` and dates `date`. The WebSocket (`/ws`)
is described as far as OpenAPI can: its parameters, the 101 upgrade, its messages (the
`Event` schema) and its close codes. CI lints it with Redocly's recommended rules and builds
a Python client from it with openapi-python-client.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from aitrader import __version__
from aitrader.api.files import STATIC, add_files
from aitrader.api.keys import SETTINGS

JOB_STATUSES = ["pending", "running", "completed", "partial", "failed", "cancelled"]
DAY_STATUSES = ["pending", "running", "completed", "failed", "cancelled", "skipped"]


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _obj(required: list[str], properties: dict[str, Any], description: str = "",
         **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "object", "required": required, "properties": properties}
    if description:
        out["description"] = description
    return {**out, **extra}


def _array(items: dict[str, Any], description: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {"type": "array", "items": items}
    return {**out, "description": description} if description else out


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


STR: dict[str, Any] = {"type": "string"}
INT: dict[str, Any] = {"type": "integer"}
NUM: dict[str, Any] = {"type": "number"}
BOOL: dict[str, Any] = {"type": "boolean"}
DATE: dict[str, Any] = {"type": "string", "format": "date"}
TIME: dict[str, Any] = {"type": "string", "format": "date-time"}

SCHEMAS: dict[str, Any] = {
    "Error": _obj(["error", "message"], {
        "error": {**STR, "description": "a stable code: invalid_input, invalid_config, "
                  "invalid_date, not_found, no_data, unauthorized, unavailable..."},
        "message": {**STR, "description": "for a person"},
        "details": {"type": "object", "description": "e.g. the field that is wrong",
                    "additionalProperties": True}}),
    "Conflict": _obj(["error", "message"], {
        "error": {"const": "conflict"}, "message": STR,
        "current_job_id": {**STR, "description": "the running job in the way"},
        "current_date_range": _array(DATE, "its first and last date"),
        "status": {**STR, "description": "the job's status, when it has already ended"}}),
    "TriggerRequest": {
        "type": "object", "additionalProperties": False,
        "description": "Every field is optional; null means the same as leaving it out.",
        "properties": {
            "config_path": {"type": ["string", "null"], "description": "a config in configs/",
                            "examples": ["configs/default_config.json"]},
            "start_date": {"type": ["string", "null"], "format": "date"},
            "end_date": {"type": ["string", "null"], "format": "date"},
            "models": {"type": ["array", "null"], "items": STR,
                       "description": "signatures (default: every enabled model)"}}},
    "Accepted": _obj(["job_id", "status", "date_range", "models", "created_at", "message"], {
        "job_id": STR, "status": {"const": "accepted"},
        "date_range": _array(DATE, "the first and last date of the job"),
        "models": _array(STR), "created_at": TIME, "message": STR}, "a new job"),
    "Current": _obj(["status", "message", "last_simulation_date", "next_trading_day"], {
        "status": {"const": "current"}, "message": STR,
        "last_simulation_date": _nullable(DATE), "next_trading_day": _nullable(DATE)},
        "nothing to simulate"),
    "ModelDayRef": _obj(["date", "model"], {"date": DATE, "model": STR}),
    "ModelDay": _obj(["date", "model", "status", "duration_seconds", "error"], {
        "date": DATE, "model": STR, "status": {"enum": DAY_STATUSES},
        "duration_seconds": _nullable(NUM), "error": _nullable(STR)}),
    "Progress": _obj(
        ["total_model_days", "completed", "failed", "pending", "running", "cancelled",
         "skipped", "current"], {
            "total_model_days": INT, "completed": INT, "failed": INT, "pending": INT,
            "running": INT, "cancelled": INT, "skipped": INT,
            "current": _array(_ref("ModelDayRef"), "the model-days running now"),
            "details": _array(_ref("ModelDay"), "every model-day (status, current with "
                              "?details=true)")}),
    "Job": _obj(
        ["job_id", "status", "date_range", "models", "config_path", "progress", "created_at",
         "started_at", "updated_at", "completed_at", "total_duration_seconds", "error"], {
            "job_id": STR, "status": {"enum": JOB_STATUSES},
            "date_range": _array(DATE), "models": _array(STR),
            "config_path": _nullable(STR), "progress": _ref("Progress"),
            "created_at": TIME, "started_at": _nullable(TIME), "updated_at": TIME,
            "completed_at": _nullable(TIME), "total_duration_seconds": _nullable(NUM),
            "error": _nullable(STR),
            "message": {**STR, "description": "on a trigger, retry or cancel answer"}}),
    "JobList": _obj(["jobs", "total", "limit", "offset"], {
        "jobs": _array(_ref("Job")), "total": INT, "limit": INT, "offset": INT}),
    "DailyPnl": _obj(["profit", "return_pct", "portfolio_value"], {
        "profit": NUM, "return_pct": NUM, "portfolio_value": NUM}),
    "Trade": _obj(["id", "action", "symbol", "amount", "price", "total"], {
        "id": INT, "action": {"enum": ["buy", "sell"]}, "symbol": STR, "amount": INT,
        "price": NUM, "total": NUM}),
    "Reasoning": _obj(["total_steps", "stop_signal_received", "reasoning_summary",
                       "tool_usage"], {
        "total_steps": INT, "stop_signal_received": BOOL, "reasoning_summary": STR,
        "tool_usage": {"type": "object", "additionalProperties": INT,
                       "description": "calls per tool"}}),
    "LlmUsage": _obj(["calls", "prompt_tokens", "completion_tokens", "cost_usd"], {
        "calls": INT, "prompt_tokens": INT, "completion_tokens": INT, "cost_usd": NUM}),
    "ModelResult": _obj(["model", "session", "positions", "daily_pnl"], {
        "model": STR,
        "session": {"type": "string", "description": "the session id: its date (daily), or "
                    "its start with the market's UTC offset (hourly)"},
        "positions": {"type": "object", "additionalProperties": NUM,
                      "description": "shares per symbol, and CASH"},
        "daily_pnl": _ref("DailyPnl"),
        "trades": _array(_ref("Trade"), "with detail=full"),
        "ai_reasoning": _ref("Reasoning"), "llm_usage": _ref("LlmUsage"),
        "log_file_path": _nullable(STR)}),
    "Results": _obj(["date", "results"], {
        "date": {"type": "string", "description": "the date or session asked for (default: "
                 "the latest session with results)"},
        "results": _array(_ref("ModelResult"))}),
    "Point": _obj(["date", "portfolio_value", "daily_return_pct"], {
        "date": {"type": "string", "description": "the session id (a date for daily runs); "
                 "the first point is the baseline: an init date or the session before the "
                 "window"}, "portfolio_value": NUM, "daily_return_pct": NUM}),
    "Metrics": _obj(
        ["sessions", "start_value", "end_value", "cumulative_return", "annualised_return",
         "volatility", "sharpe", "sortino", "max_drawdown", "calmar", "win_rate",
         "short_window", "periods_per_year"], {
            "sessions": INT, "start_value": NUM, "end_value": NUM, "cumulative_return": NUM,
            "annualised_return": _nullable(NUM), "volatility": _nullable(NUM),
            "sharpe": _nullable(NUM), "sortino": _nullable(NUM), "max_drawdown": NUM,
            "calmar": _nullable(NUM), "win_rate": _nullable(NUM),
            "short_window": {**BOOL, "description": "fewer than 20 sessions: annualised "
                             "figures are indications only"},
            "periods_per_year": {**INT, "description": "the sessions per year annualised "
                                 "figures scale by (252 US daily, 1512 US hourly, 242 / 968 "
                                 "SSE 50, 365 / 8760 crypto)"}}),
    "Series": _obj(["series", "metrics"], {"series": _array(_ref("Point")),
                                           "metrics": _ref("Metrics")}),
    "BenchmarkSeries": _obj(["symbol", "series", "metrics"], {
        "symbol": STR, "name": STR,
        "units": {"enum": ["whole", "fractional"], "description": "QQQ is bought in whole "
                  "shares; an index or basket in fractional units"},
        "series": _array(_ref("Point")), "metrics": _ref("Metrics")}),
    "IndexReturn": _obj(["symbol", "name", "from_session", "to_session", "return"], {
        "symbol": STR, "name": STR,
        "from_session": {**_nullable(STR), "description": "the close it starts from: the "
                         "session before the window"},
        "to_session": _nullable(STR),
        "return": {**_nullable(NUM), "description": "close to close, as a fraction (null "
                   "when a close is missing: see note)"},
        "note": _nullable(STR)}),
    "Performance": _obj(["start_date", "end_date", "models", "benchmark", "index"], {
        "start_date": _nullable(DATE), "end_date": _nullable(DATE),
        "synthetic": {**BOOL, "description": "the window's prices include the demo market"},
        "market": {"enum": ["us", "cn", "crypto"]},
        "frequency": {"enum": ["daily", "hourly"]},
        "currency": {**STR, "examples": ["USD", "CNY", "USDT"]},
        "periods_per_year": INT,
        "notes": _array(STR, "what the figures rest on (e.g. USD quotes used as USDT)"),
        "index": _nullable(_ref("IndexReturn")),
        "models": {"type": "object", "additionalProperties": _ref("Series"),
                   "description": "by model signature, best cumulative return first"},
        "benchmark": _nullable(_ref("BenchmarkSeries"))}),
    "MarketEntry": _obj(["market", "frequency", "title", "currency", "benchmark",
                         "periods_per_year", "models", "first_session", "last_session"], {
        "market": {"enum": ["us", "cn", "crypto"]}, "frequency": {"enum": ["daily", "hourly"]},
        "title": STR, "currency": STR, "benchmark": STR, "periods_per_year": INT,
        "models": {**INT, "description": "models registered in this market"},
        "first_session": {**_nullable(STR), "description": "the earliest session with a "
                          "snapshot (null before the first)"},
        "last_session": _nullable(STR)}),
    "MarketList": _obj(["markets"], {"markets": _array(_ref("MarketEntry"))}),
    "ServiceCheck": _obj(["status"], {
        "status": {"enum": ["up", "down"]}, "url": STR, "error": STR}),
    "Health": _obj(["status", "timestamp", "services", "storage", "database", "simulation",
                    "auth_required"], {
        "status": {"enum": ["healthy", "unhealthy"]}, "timestamp": TIME,
        "services": {"type": "object", "additionalProperties": _ref("ServiceCheck")},
        "storage": _obj(["writable", "free_space_mb"], {
            "data_directory": STR, "writable": BOOL, "free_space_mb": INT,
            "min_free_mb": INT, "error": STR}),
        "database": _obj(["status"], {"status": {"enum": ["up", "down"]}, "path": STR,
                                      "error": STR}),
        "simulation": _obj(["status"], {"status": {"enum": ["up", "down"]}}),
        "auth_required": BOOL}),
    "Event": _obj(["seq", "type", "time", "job_id", "model", "date"], {
        "seq": {**INT, "description": "monotonic; reconnect with ?since=<the last seen>"},
        "type": {**STR, "examples": ["job.created", "job.status", "model_day.started",
                                     "model_day.tool_call", "model_day.retry",
                                     "model_day.finished", "llm.call", "actor.restarted",
                                     "job.finished"]},
        "time": TIME, "job_id": _nullable(STR), "model": _nullable(STR),
        "date": _nullable(DATE)},
        "One WebSocket message of /ws; each type adds its own fields.",
        additionalProperties=True),
}

_TEXT = {400: "invalid input", 401: "missing or wrong bearer token", 404: "not found",
         413: "body too large", 415: "body is not JSON",
         503: "the simulation cannot take it now (starting, stopping, too many requests "
              "waiting, or its database cannot be written)"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    out = {str(c): _json(_ref("Error"), _TEXT[c]) for c in codes if c != 409}
    if 409 in codes:
        out["409"] = _json(_ref("Conflict"), "other work is running, or the job has ended")
    return out


_JOB_ID = {"name": "job_id", "in": "path", "required": True, "schema": STR}


def _q(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema,
            "description": description}


def _op(op_id: str, tag: str, summary: str, responses: dict[str, Any],
        **extra: Any) -> dict[str, Any]:
    return {"operationId": op_id, "tags": [tag], "summary": summary, **extra,
            "responses": responses}


def document(server: str = "http://localhost:8080", secured: bool = True) -> dict[str, Any]:
    """The API's description; `secured` says whether this instance asks for a bearer token
    (without AITRADER_API_TOKEN nothing does, and the document says so)."""
    trigger_answers = {"202": _json(_ref("Accepted"), "a new job"),
                       "200": _json({"oneOf": [_ref("Job"), _ref("Current")]},
                                    "the same work already running, or nothing to do")}
    return {
        "openapi": "3.1.0",
        "info": {"title": "aitrader", "version": __version__,
                 "description": "The AI-Trader benchmark as a service: trigger simulations, "
                 "follow them, read the results.",
                 "license": {"name": "MIT", "identifier": "MIT"}},
        "servers": [{"url": server, "description": "this service"}],
        "tags": [
            {"name": "jobs", "description": "Simulation jobs: trigger, follow, cancel, retry"},
            {"name": "results", "description": "Positions, P&L and performance"},
            {"name": "service", "description": "Health and metrics"},
            {"name": "events", "description": "The live event stream"}],
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
                       "schemas": SCHEMAS},
        "security": [{"bearer": []}] if secured else [],
        "paths": {
            "/simulate/trigger": {"post": _op(
                "triggerSimulation", "jobs", "Trigger a simulation (catch-up without dates)",
                {**trigger_answers, **_errors(400, 401, 409, 413, 415, 503)},
                requestBody={"required": False, "content": {"application/json": {
                    "schema": _ref("TriggerRequest")}}})},
            "/simulate/status/{job_id}": {"get": _op(
                "getJobStatus", "jobs", "A job's status, progress and every model-day",
                {"200": _json(_ref("Job"), "the job"), **_errors(401, 404)},
                parameters=[_JOB_ID])},
            "/simulate/current": {"get": _op(
                "getCurrentJob", "jobs", "The newest job",
                {"200": _json(_ref("Job"), "the newest job"), **_errors(400, 401, 404)},
                parameters=[_q("details", {"enum": ["true", "false", "1", "0"]},
                               "list every model-day")])},
            "/simulate/jobs": {"get": _op(
                "listJobs", "jobs", "Jobs, newest first",
                {"200": _json(_ref("JobList"), "a page of jobs"), **_errors(400, 401)},
                parameters=[
                    _q("status", {"enum": JOB_STATUSES}, "only jobs in this status"),
                    _q("limit", {"type": "integer", "minimum": 1, "maximum": 100},
                       "page size (20)"),
                    _q("offset", {"type": "integer", "minimum": 0}, "jobs to skip")])},
            "/simulate/jobs/{job_id}/cancel": {"post": _op(
                "cancelJob", "jobs", "Cancel a running job",
                {"202": _json(_ref("Job"), "cancelling"), **_errors(401, 404, 409, 503)},
                parameters=[_JOB_ID])},
            "/simulate/jobs/{job_id}/retry": {"post": _op(
                "retryJob", "jobs", "A new job for a job's failed and cancelled model-days",
                {**trigger_answers, **_errors(400, 401, 404, 409, 503)},
                parameters=[_JOB_ID])},
            "/results": {"get": _op(
                "getResults", "results", "Positions and P&L of a date",
                {"200": _json(_ref("Results"), "results"), **_errors(400, 401, 404)},
                parameters=[_q("date", STR, "a date (YYYY-MM-DD: every session of that "
                               "local day) or a session id such as 2025-10-31T10:00:00-04:00 "
                               "(any UTC offset; default: the latest session with results)"),
                            _q("model", STR, "one model's signature"),
                            _q("detail", {"enum": ["minimal", "full"]},
                               "full adds trades, reasoning and LLM usage")])},
            "/results/performance": {"get": _op(
                "getPerformance", "results",
                "Value series and metrics per model, with the market's benchmark",
                {"200": _json(_ref("Performance"), "performance (empty, with a null "
                              "benchmark, before any model has a history)"),
                 **_errors(400, 401, 404)},
                parameters=[_q("model", STR, "one model's signature"),
                            _q("market", {"enum": ["us", "cn", "crypto"]},
                               "the market (default: the models' own; needed when they "
                               "trade several)"),
                            _q("frequency", {"enum": ["daily", "hourly"]},
                               "with market (default daily)"),
                            _q("start_date", DATE, "the first day of the window"),
                            _q("end_date", DATE, "the last day of the window")])},
            "/results/markets": {"get": _op(
                "getMarkets", "results", "The markets and frequencies the models trade",
                {"200": _json(_ref("MarketList"), "one entry per market and frequency"),
                 **_errors(401)})},
            "/health": {"get": _op(
                "getHealth", "service", "Health of the service and the tool servers",
                {"200": _json(_ref("Health"), "healthy"),
                 "503": _json(_ref("Health"), "a part is down (named)")}, security=[])},
            "/metrics": {"get": _op(
                "getMetrics", "service", "Prometheus metrics",
                {"200": {"description": "the Prometheus text format", "content": {
                    "text/plain": {"schema": STR}}}, **_errors(401)})},
            "/ws": {"get": _op(
                "streamEvents", "events", "The live event stream (a WebSocket)",
                {"101": {"description": (
                    "The WebSocket upgrade. Each message is one JSON event (the Event schema)"
                    ". With `since` every stored event after it comes first, then the live "
                    "stream, none twice. Close codes: 1001 the service is stopping; 1013 "
                    "the viewer fell too far behind, the reason says `reconnect with "
                    "since=<seq>`.")},
                 **_errors(400, 401)},
                description="Needs the `Upgrade: websocket` handshake; a plain GET is "
                            "refused. Messages follow the `Event` schema.",
                parameters=[
                    _q("since", {"type": "integer", "minimum": 0},
                       "replay every stored event after this sequence number first"),
                    _q("job_id", STR, "only this job's events"),
                    _q("token", STR, "the bearer token, for clients that cannot send a "
                       "header")])},
        },
    }


async def openapi(request: web.Request) -> web.Response:
    secured = bool(request.app[SETTINGS].api_token)
    return web.json_response(document(f"{request.scheme}://{request.host}", secured))


async def docs(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "docs.html")


def docs_routes(app: web.Application) -> None:
    app.router.add_get("/docs", docs)
    add_files(app, "/docs/static", STATIC / "swagger-ui")
