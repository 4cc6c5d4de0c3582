"""/results and /results/performance: read-only views of the ledger."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from aitrader.api import views
from aitrader.api.keys import CACHE, STORE
from aitrader.errors import DataError, InvalidInput, NotFound
from aitrader.ledger.performance import leaderboard
from aitrader.market.calendar import nyse, parse_date
from aitrader.store.results import results_on


def _date(request: web.Request, name: str) -> str | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    try:
        return parse_date(raw, field=name).isoformat()
    except InvalidInput as exc:
        exc.code = "invalid_date"
        raise


async def results(request: web.Request) -> web.Response:
    key = "&".join(f"{k}={v}" for k, v in sorted(request.query.items()))
    return await request.app[CACHE].get("results", key, lambda: _results(request))


async def _results(request: web.Request) -> dict[str, Any]:
    detail = request.query.get("detail", "minimal")
    if detail not in ("minimal", "full"):
        raise InvalidInput("detail must be minimal or full", field="detail")
    day = await results_on(request.app[STORE], _date(request, "date"),
                           request.query.get("model") or None, full=detail == "full")
    return views.results(day)


async def performance(request: web.Request) -> web.Response:
    model = request.query.get("model") or None
    start, end = _date(request, "start_date"), _date(request, "end_date")
    if start and end and end < start:
        raise InvalidInput("end_date is before start_date", field="end_date")
    try:
        board = await leaderboard(request.app[STORE], nyse(), start=start, end=end,
                                  models=[model] if model else None)
    except NotFound:
        if model:
            raise DataError(f"no model {model[:64]!r}", model=model) from None
        board = None
    return web.json_response(views.performance(board))
