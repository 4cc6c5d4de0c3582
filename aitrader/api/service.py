"""/health: the database, the data directory, and each tool server."""

from __future__ import annotations

import asyncio
import os
import shutil
from datetime import UTC, datetime
from typing import Any

import aiohttp
from aiohttp import web

from aitrader.api.keys import SETTINGS, STORE, SUPERVISOR
from aitrader.settings import TOOL_SERVERS
from aitrader.store import scalar

NAMES = {"math": "mcp_math", "search": "mcp_search", "trade": "mcp_trade",
         "price": "mcp_getprice"}


async def tool_health(http: aiohttp.ClientSession, url: str) -> dict[str, Any]:
    """One tool server's /health: {"status": "up"|"down", "url", "error"?}."""
    try:
        async with http.get(url + "/health") as r:
            if r.status == 200:
                return {"status": "up", "url": url}
            return {"status": "down", "url": url, "error": f"/health answered {r.status}"}
    except (aiohttp.ClientError, TimeoutError) as exc:
        return {"status": "down", "url": url, "error": type(exc).__name__}


async def health(request: web.Request) -> web.Response:
    settings, store = request.app[SETTINGS], request.app[STORE]
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as http:
        checks = await asyncio.gather(*[tool_health(http, settings.tool_url(n))
                                        for n in TOOL_SERVERS])
    services = {NAMES[n]: c for n, c in zip(TOOL_SERVERS, checks, strict=True)}
    data_dir = settings.data_dir
    try:
        free = shutil.disk_usage(data_dir).free // (1024 * 1024)
        writable = os.access(data_dir, os.W_OK)
    except OSError:
        free, writable = 0, False
    storage: dict[str, Any] = {"data_directory": str(data_dir), "writable": writable,
                               "free_space_mb": free}
    try:
        async with store.read() as conn:
            await scalar(conn, "SELECT 1")
        database: dict[str, Any] = {"status": "up", "path": settings.db_path.name}
    except Exception as exc:  # the database being unusable is what this reports
        database = {"status": "down", "path": settings.db_path.name,
                    "error": type(exc).__name__}
    host = request.app.get(SUPERVISOR)
    simulation = {"status": "up" if host is not None and host.running else "down"}
    healthy = all(c["status"] == "up" for c in checks) and database["status"] == "up" \
        and writable and simulation["status"] == "up"
    if not writable:
        storage["error"] = "the data directory is not writable"
    body = {"status": "healthy" if healthy else "unhealthy",
            "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
            "services": services, "storage": storage, "database": database,
            "simulation": simulation,
            # tells the dashboard page whether to ask for a token (not a secret)
            "auth_required": bool(settings.api_token)}
    return web.json_response(body, status=200 if healthy else 503)
