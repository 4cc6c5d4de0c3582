"""Optional bearer-token auth (AITRADER_API_TOKEN): every endpoint but /health needs
`Authorization: Bearer <token>` (the WebSocket also takes `?token=`), compared in constant
time; 401 with `WWW-Authenticate: Bearer` otherwise.

The dashboard page (`/` and its assets under `/ui/`) and the API's description (`/openapi.json`,
`/docs` and its assets) are open too: a browser cannot send a bearer header when it opens a
page, and they hold no data; the dashboard asks for the token before it calls the API."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Any

from aiohttp import web

OPEN_PATHS = frozenset({"/health", "/", "/openapi.json", "/docs"})
OPEN_PREFIXES = ("/ui/", "/docs/static/")


def auth_middleware(token: str) -> Callable[..., Any]:
    expected = token.encode()

    @web.middleware
    async def check(request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path in OPEN_PATHS or request.path.startswith(OPEN_PREFIXES):
            response: web.StreamResponse = await handler(request)
            return response
        header = request.headers.get("Authorization", "")
        given = header[7:].strip() if header[:7].lower() == "bearer " else ""
        if not given and request.path == "/ws":
            given = request.query.get("token", "")
        # header bytes that are not UTF-8 come as surrogates: compared as the bytes sent
        if not given or not hmac.compare_digest(given.encode("utf-8", "surrogateescape"),
                                                expected):
            raise web.HTTPUnauthorized(reason="a valid bearer token is required",
                                       headers={"WWW-Authenticate": "Bearer"})
        response = await handler(request)
        return response

    return check
