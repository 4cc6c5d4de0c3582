"""The live dashboard page: `/` and its assets under `/ui/` (aitrader/api/static/dashboard:
one HTML file, one script, one stylesheet; no CDN, no build step). Open without the token
(see aitrader.api.auth): the files hold no data."""

from __future__ import annotations

from aiohttp import web

from aitrader.api.files import STATIC, add_files

PAGE = STATIC / "dashboard"


async def page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(PAGE / "index.html", headers={"Cache-Control": "no-cache"})


def dashboard_routes(app: web.Application) -> None:
    app.router.add_get("/", page)
    add_files(app, "/ui", PAGE)
