"""One middleware turns domain errors into the error body of API.md, and anything else into a
500 that says nothing about the server; `json_error_pages` gives aiohttp's own error answers
(a request it cannot parse) the same body. Plus the JSON body and query parsers every handler
uses."""

from __future__ import annotations

import json
from typing import Any

import structlog
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestHandler, RequestPayloadError

from aitrader.api.metrics import CLIENT_CLOSED
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
    response = await _answer(request, handler)
    if request.content.exception() is not None:
        # the body could not be read (say, not the gzip it claimed to be): what is left of
        # it cannot be skipped to reach a next request, so the answer says Connection: close
        # and the body counts as read (aiohttp would otherwise drain it after the answer, hit
        # the same error, log it as unhandled and drop a connection the client may reuse)
        response.force_close()
        request.content.feed_eof()
    return response


async def _answer(request: web.Request, handler: Any) -> web.StreamResponse:
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
    except ConnectionResetError:  # the client hung up (mid-body, say): nobody reads an answer
        log.info("client_gone", path=request.path, method=request.method)
        return web.Response(status=CLIENT_CLOSED)
    except Exception:
        log.exception("request_failed", path=request.path, method=request.method)
        return error_response(500, "internal", "the server failed to handle this request; "
                              "it has been logged")


def query_int(request: web.Request, name: str, default: int | None, lo: int, hi: int
              ) -> int | None:
    """A query parameter as a whole number in [lo, hi] (ASCII digits only: `²` or `٣` are
    digits to str.isdigit but not numbers), `default` when absent, or InvalidInput."""
    raw = request.query.get(name)
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit()) or len(raw) > len(str(hi)) \
            or not lo <= int(raw) <= hi:
        raise InvalidInput(f"{name} must be a whole number from {lo} to {hi}", field=name)
    return int(raw)


def _error_page(handler: RequestHandler, request: web.BaseRequest, status: int = 500,
                exc: BaseException | None = None, message: str | None = None
                ) -> web.StreamResponse:
    """What aiohttp answers when it cannot hand a request to the application (a request line
    or header it cannot parse, a bad Content-Length) or a failure escapes the middlewares:
    API.md's error body instead of aiohttp's text page. A client's bad request is logged
    at info, not as a server error; the connection is closed either way, as aiohttp does."""
    if status >= 500:
        log.error("request_failed", path=request.path, exc_info=exc)
        body = error_response(status, "internal", "the server failed to handle this "
                              "request; it has been logged")
    else:
        detail = exc.message if isinstance(exc, HttpProcessingError) else message
        first = str(detail or "").strip().split("\n", 1)[0].rstrip(":")[:160]  # not the caret
        log.info("bad_request", status=status, error=first)
        body = error_response(status, "bad_request", "the request could not be parsed as HTTP"
                              + (f": {first}" if first else ""))
    if request.writer is not None and request.writer.output_size > 0:
        raise ConnectionError("the response had begun: no error page can follow")
    body.force_close()
    return body


def json_error_pages() -> None:
    """Answer aiohttp's own errors with the error body (see `_error_page`). aiohttp has no
    setting for it: its per-connection RequestHandler builds those answers, in handle_error,
    for every server of this process (the service's is the only one a client reaches)."""
    RequestHandler.handle_error = _error_page  # type: ignore[method-assign,assignment]


async def json_body(request: web.Request, *, allowed: set[str]) -> dict[str, Any]:
    """The request's JSON object (an empty body is {}); unknown fields are refused.
    The size limit is the application's client_max_size (413 beyond it)."""
    try:
        raw = await request.read()
    except RequestPayloadError:  # e.g. `Content-Encoding: gzip` on a body that is not
        raise InvalidInput("the body could not be read: it does not match its "
                           "Content-Encoding or Transfer-Encoding") from None
    if not raw.strip():
        return {}
    ctype = request.content_type
    if ctype not in ("application/json", "application/octet-stream", ""):
        raise web.HTTPUnsupportedMediaType(reason="the body must be JSON (application/json)")
    try:
        doc = json.loads(raw)
    except RecursionError:
        raise InvalidInput("the body is nested too deeply") from None
    except ValueError:  # not JSON, not UTF-8, or a number beyond Python's digit limit
        raise InvalidInput("the body is not valid JSON") from None
    if not isinstance(doc, dict):
        raise InvalidInput("the body must be a JSON object")
    unknown = sorted(set(doc) - allowed)
    if unknown:
        raise InvalidInput(f"unknown field(s): {', '.join(map(str, unknown))[:200]}",
                           field=str(unknown[0])[:64])
    return doc
