"""Running a tool server: stateless streamable HTTP with JSON responses, /health, identity.

Stateless HTTP with JSON responses (no SSE stream, no per-session task group) is what makes a
tool call cost a few milliseconds over loopback; see bench/tool_calls.py.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import uvicorn
from fastmcp import FastMCP
from fastmcp.exceptions import ToolError
from fastmcp.server.dependencies import get_http_headers
from starlette.requests import Request
from starlette.responses import JSONResponse

from aitrader import logs
from aitrader.errors import AITraderError, IdentityError
from aitrader.ledger import Ledger
from aitrader.settings import PORT_VARS
from aitrader.store import Store
from aitrader.tools.identity import Identity, claimed, verified
from aitrader.tools.ports import listening_socket

os.environ.setdefault("FASTMCP_CHECK_FOR_UPDATES", "off")  # no look-up of updates online


class _DropClientClosed(logging.Filter):
    """mcp 1.x logs a harmless ClosedResourceError traceback whenever a client hangs up."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return type(exc).__name__ != "ClosedResourceError"


def quiet_sdk_logs() -> None:
    for name in ("mcp.server.streamable_http", "mcp.server.streamable_http_manager",
                 "mcp.server.lowlevel.server"):
        logging.getLogger(name).addFilter(_DropClientClosed())


async def caller(ledger: Ledger) -> Identity:
    """Who makes the current tool call, from its session's attempt (`identity.verified`), or
    a ToolError the client sees."""
    try:
        return await verified(ledger, get_http_headers(include_all=True))
    except IdentityError as exc:
        raise ToolError(exc.message) from None


def claimed_caller() -> Identity:
    """What the current tool call says it is, checked for shape only (`identity.claimed`)."""
    try:
        return claimed(get_http_headers(include_all=True))
    except IdentityError as exc:
        raise ToolError(exc.message) from None


def add_health(mcp: FastMCP, name: str,
               check: Callable[[], Awaitable[dict[str, Any]]] | None = None) -> None:
    @mcp.custom_route("/health", methods=["GET"])
    async def health(request: Request) -> JSONResponse:
        body: dict[str, Any] = {"status": "ok", "server": name}
        if check is not None:
            try:
                body.update(await check())
            except Exception as exc:  # a failing dependency makes the server unhealthy
                return JSONResponse({"status": "error", "server": name,
                                     "error": type(exc).__name__}, status_code=503)
        return JSONResponse(body)


def store_check(store: Store) -> Callable[[], Awaitable[dict[str, Any]]]:
    """A /health check that the database answers."""

    async def check() -> dict[str, Any]:
        return {"schema_version": await store.schema_version()}

    return check


def run_main(main: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run a server's main; a settings error is one line on stderr and exit code 2."""
    try:
        asyncio.run(main())
    except AITraderError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        pass


async def serve(mcp: FastMCP, *, name: str, host: str, port: int) -> None:
    """Serve a tool server; its log lines name it (`"process": "<name>-server"`). A taken
    port is a ConfigError naming its setting, before anything starts."""
    logs.configure(process=f"{name}-server")
    quiet_sdk_logs()
    sock = listening_socket(host, port, setting=PORT_VARS[name][0])
    app = mcp.http_app(stateless_http=True, json_response=True)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False,
                            lifespan="on")
    await uvicorn.Server(config).serve(sockets=[sock])
