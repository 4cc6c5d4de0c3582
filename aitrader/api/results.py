"""/results and /results/performance: read-only views of the ledger."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from aiohttp import web

from aitrader import markets
from aitrader.api import views
from aitrader.api.keys import CACHE, STORE
from aitrader.errors import DataError, InvalidInput, NotFound
from aitrader.ledger.performance import leaderboard
from aitrader.market.calendar import parse_date
from aitrader.store.results import results_on

# the time zones session ids are written in (New York, Shanghai, UTC)
ZONES = tuple(dict.fromkeys(markets.get(k, "hourly").schedule.zone for k in markets.KNOWN))


def _date(request: web.Request, name: str) -> str | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    try:
        return parse_date(raw, field=name).isoformat()
    except InvalidInput as exc:
        exc.code = "invalid_date"
        raise


def _session(request: web.Request) -> tuple[str | None, tuple[str, ...]]:
    """`date`: a date (every session of that local day), or a session id with any UTC offset
    (or Z), returned with the id that instant has in each market's own offset."""
    raw = request.query.get("date")
    if raw is None or len(raw.strip()) == 10:
        return _date(request, "date"), ()
    text = raw.strip()
    try:
        instant = datetime.fromisoformat(text)
        if instant.tzinfo is None or len(text) > 40:
            raise ValueError
    except ValueError:
        bad = InvalidInput(f"date must be a date as YYYY-MM-DD or a session id such as "
                           f"2025-10-31T10:00:00-04:00, got {text[:40]!r}", field="date")
        bad.code = "invalid_date"
        raise bad from None
    ids = sorted({instant.astimezone(zone).isoformat() for zone in ZONES})
    return text, tuple(ids)


async def results(request: web.Request) -> web.Response:
    detail = request.query.get("detail", "minimal")
    if detail not in ("minimal", "full"):
        raise InvalidInput("detail must be minimal or full", field="detail")
    (day, sessions), model = _session(request), request.query.get("model") or None
    store = request.app[STORE]

    async def build() -> dict[str, Any]:
        return views.results(await results_on(store, day, model, full=detail == "full",
                                              sessions=sessions))

    # keyed by what was parsed, never by the raw query (`%26` in a value is not a `&`)
    key = json.dumps([day, sessions, model, detail])
    return await request.app[CACHE].get("results", key, build)


def _market(request: web.Request) -> markets.Market | None:
    """`market` (us, cn, crypto) and `frequency` (daily, hourly; default daily), or None: the
    models' own market."""
    key, freq = request.query.get("market"), request.query.get("frequency")
    if key is None and freq is None:
        return None
    if key is None:
        raise InvalidInput("frequency needs market (us, cn or crypto)", field="market")
    return markets.get(key, freq or "daily")


async def performance(request: web.Request) -> web.Response:
    model = request.query.get("model") or None
    start, end = _date(request, "start_date"), _date(request, "end_date")
    if start and end and end < start:
        raise InvalidInput("end_date is before start_date", field="end_date")
    market = _market(request)
    try:
        board = await leaderboard(request.app[STORE], market, start=start, end=end,
                                  models=[model] if model else None)
    except NotFound:
        if model:
            raise DataError(f"no model {model[:64]!r}", model=model) from None
        board = None
    return web.json_response(views.performance(board))


async def market_list(request: web.Request) -> web.Response:
    """The markets and frequencies the ledger's models trade, with what a viewer needs to pick
    one (a dashboard's or a Windmill app's market selector)."""
    async with request.app[STORE].read() as conn:
        cur = await conn.execute(
            "SELECT m.market, m.frequency, COUNT(DISTINCT m.signature), MIN(e.date), "
            "MAX(e.date) FROM models m LEFT JOIN eod e ON e.model = m.signature "
            "GROUP BY m.market, m.frequency ORDER BY m.market, m.frequency")
        rows = await cur.fetchall()
    out = []
    for key, freq, n, first, last in rows:
        market = markets.get(key, freq)
        out.append({"market": key, "frequency": freq, "title": market.title,
                    "currency": market.currency, "benchmark": market.benchmark.symbol,
                    "periods_per_year": market.periods_per_year, "models": n,
                    "first_session": first, "last_session": last})
    return web.json_response({"markets": out})
