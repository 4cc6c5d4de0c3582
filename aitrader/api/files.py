"""The files the service serves as they are (aitrader/api/static: the dashboard, Swagger UI).

aiohttp's own static route answers a missing file with an empty 404 after the middlewares
have run; this one raises, so a missing file gets API.md's error body like any other 404.
Only regular files inside the folder are served (no listing, no `..`, no link out of it)."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

STATIC = Path(__file__).parent / "static"


def add_files(app: web.Application, prefix: str, folder: Path,
              cache_control: str | None = None) -> None:
    root = folder.resolve()
    headers = {"Cache-Control": cache_control} if cache_control else None

    async def serve(request: web.Request) -> web.FileResponse:
        path = (root / request.match_info["name"]).resolve()
        if not path.is_relative_to(root) or not path.is_file():
            raise web.HTTPNotFound(reason="no such file")
        return web.FileResponse(path, headers=headers)

    app.router.add_get(prefix + "/{name:.+}", serve)
