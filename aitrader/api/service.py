"""/health: the database (read, and whether writes are failing: locked by another process for
too long, or the disk full), the data directory and its disk, each tool server, and the
simulation loop."""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from aitrader.api.keys import SETTINGS, SIMULATION, STORE
from aitrader.settings import TOOL_SERVERS
from aitrader.tools.health import probe_all

NAMES = {"math": "mcp_math", "search": "mcp_search", "trade": "mcp_trade",
         "price": "mcp_getprice"}


def _storage(request: web.Request) -> dict[str, Any]:
    settings = request.app[SETTINGS]
    data_dir = settings.data_dir
    try:
        free = shutil.disk_usage(data_dir).free // (1024 * 1024)
        writable = os.access(data_dir, os.W_OK)
    except OSError:
        free, writable = 0, False
    storage: dict[str, Any] = {"data_directory": str(data_dir), "writable": writable,
                               "free_space_mb": free, "min_free_mb": settings.min_free_mb}
    if not writable:
        storage["error"] = "the data directory is not writable"
    elif free < settings.min_free_mb:
        storage["error"] = (f"the data directory's disk has {free} MB free, below the "
                            f"{settings.min_free_mb} MB the service needs (AITRADER_MIN_FREE_MB)")
    return storage


async def health(request: web.Request) -> web.Response:
    settings, store = request.app[SETTINGS], request.app[STORE]
    checks = await probe_all(settings, TOOL_SERVERS)
    services = {NAMES[n]: c for n, c in checks.items()}
    storage = _storage(request)
    try:
        await store.ping()
        database: dict[str, Any] = {"status": "up", "path": settings.db_path.name}
    except Exception as exc:  # the database being unusable is what this reports
        database = {"status": "down", "path": settings.db_path.name,
                    "error": type(exc).__name__}
    host = request.app.get(SIMULATION)
    failing = store.write_error or (host.write_error if host is not None else None)
    if failing is not None and database["status"] == "up":  # reads work, writes do not
        database.update(status="down", error=f"the database cannot be written: {failing}")
    simulation = {"status": "up" if host is not None and host.running else "down"}
    healthy = all(c["status"] == "up" for c in checks.values()) and \
        database["status"] == "up" and "error" not in storage and simulation["status"] == "up"
    body = {"status": "healthy" if healthy else "unhealthy",
            "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
            "services": services, "storage": storage, "database": database,
            "simulation": simulation,
            # tells the dashboard page whether to ask for a token (not a secret)
            "auth_required": bool(settings.api_token)}
    return web.json_response(body, status=200 if healthy else 503)
