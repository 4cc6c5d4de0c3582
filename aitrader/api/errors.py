"""One middleware turns domain errors into the error body of API.md, and anything else into a
500 that says nothing about the server. Plus the JSON body parser every handler uses."""

from __future__ import annotations

import json
from typing import Any

import structlog
from aiohttp import web

from aitrader.errors import (
    AITraderError,
    Conflict,
    DataError,
    InvalidInput,
    NotFound,
    Unavailable,
)

log = structlog.get_logger(__name__)

STATUS = {InvalidInput: 400, NotFound: 404, DataError: 404, Conflict: 409, Unavailable: 503}


def error_response(status: int, code: str, message: str, **details: Any) -> web.Response:
    body: dict[str, Any] = {"error": code, "message": message}
    if details:
        body["details"] = details
    return web.json_response(body, status=status)


def _status_of(exc: AITraderError) -> int:
    for cls, status in STATUS.items():
        if isinstance(exc, cls):
            return status
    return 400


@web.middleware
async def errors_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        response: web.StreamResponse = await handler(request)
        return response
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = {401: "unauthorized", 404: "not_found", 405: "method_not_allowed",
                413: "payload_too_large", 415: "unsupported_media_type"}.get(
                    exc.status, "http_error")
        headers = {k: v for k, v in exc.headers.items() if k.lower() in
                   ("www-authenticate", "allow")}
        resp = error_response(exc.status, code, exc.reason or code)
        resp.headers.update(headers)
        return resp
    except Conflict as exc:
        body = {"error": exc.code, "message": exc.message, **exc.details}
        return web.json_response(body, status=409)
    except AITraderError as exc:
        return error_response(_status_of(exc), exc.code, exc.message,
                              **{k: v for k, v in exc.details.items() if v is not None})
    except Exception:
        log.exception("request_failed", path=request.path, method=request.method)
        return error_response(500, "internal", "the server failed to handle this request; "
                              "it has been logged")


async def json_body(request: web.Request, *, allowed: set[str]) -> dict[str, Any]:
    """The request's JSON object (an empty body is {}); unknown fields are refused.
    The size limit is the application's client_max_size (413 beyond it)."""
    raw = await request.read()
    if not raw.strip():
        return {}
    ctype = request.content_type
    if ctype not in ("application/json", "application/octet-stream", ""):
        raise web.HTTPUnsupportedMediaType(reason="the body must be JSON (application/json)")
    try:
        doc = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise InvalidInput("the body is not valid JSON") from None
    if not isinstance(doc, dict):
        raise InvalidInput("the body must be a JSON object")
    unknown = sorted(set(doc) - allowed)
    if unknown:
        raise InvalidInput(f"unknown field(s): {', '.join(map(str, unknown))[:200]}",
                           field=str(unknown[0])[:64])
    return doc
