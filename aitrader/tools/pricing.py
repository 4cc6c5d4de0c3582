"""get_price_local: a bar as the model may see it at the start of its session (MARKETS.md).

Every bar that ended at or before the session's start is shown in full; of the session's own
bar only the open; in an hourly run, a date names that day's bar built from its hourly bars,
and for the session's own day only the day's open (the day is not over). Anything that
starts later is refused without saying whether data exists. Errors never list available
dates.
"""

from __future__ import annotations

import functools
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from aitrader import markets
from aitrader.market.prices import Bar, Feed, bars_between, get_bar
from aitrader.markets import BenchmarkKind, Market
from aitrader.money import num
from aitrader.store import Store
from aitrader.tools.identity import Identity

FORMAT = "date must be in YYYY-MM-DD format"
HOURLY_FORMAT = ("date must be YYYY-MM-DD (a whole day) or a session's start such as "
                 "{example}")


@functools.cache
def _lookable(key: str, frequency: str) -> frozenset[str]:
    """The symbols a model may ask for: its universe and the benchmark series (built once
    per market, not per call)."""
    market = markets.get(key, frequency)
    bench = market.benchmark
    extra = {bench.symbol} if bench.kind is BenchmarkKind.SERIES else set()
    return market.symbols | extra


def _ohlcv(bar: Bar) -> dict[str, Any]:
    return {"open": float(bar.open), "high": float(bar.high), "low": float(bar.low),
            "close": float(bar.close), "volume": num(bar.volume)}


def _open_only(price: Decimal, what: str) -> dict[str, Any]:
    return {"ohlcv": {"open": float(price)},
            "note": f"{what} is under way: only the open is known"}


async def price_for(store: Store, ident: Identity, symbol: object, when: object
                    ) -> dict[str, Any]:
    market = markets.get(ident.market, ident.frequency)
    sym = market.normalise(symbol)[:24]
    text = str(when).strip()[:40]
    base: dict[str, Any] = {"symbol": sym, "date": text}
    now = market.session(ident.date)
    if sym not in _lookable(market.key, market.frequency):
        return {**base, "error": f"unknown symbol {sym!r}: prices cover the {market.title} "
                                 "universe and its benchmark"}
    feed = Feed(market.key, market.frequency)
    if len(text) == 10:
        try:
            day = date.fromisoformat(text)
        except ValueError:
            return {**base, "error": _format(market)}
        if day > now.day:
            return {**base, "error": f"{text} is after today's trading date {now.day}: "
                                     "only earlier days and today's open can be looked up"}
        if not market.hourly:
            async with store.read() as conn:
                bar = await get_bar(conn, feed, sym, text)
            if bar is None:
                why = "" if market.schedule.calendar().is_session(day) else \
                    f" (not a {_exchange(market)} trading day)"
                return {**base, "error": f"no price for {sym} on {text}{why}"}
            if day == now.day:
                return {**base, **_open_only(bar.open, "today's session")}
            return {**base, "ohlcv": _ohlcv(bar)}
        return await _day_of_hours(store, market, feed, sym, day, now.day, base)
    if not market.hourly:
        return {**base, "error": _format(market)}
    try:
        instant = datetime.fromisoformat(text)
        if instant.tzinfo is None:
            raise ValueError
    except ValueError:
        return {**base, "error": _format(market)}
    if instant > now.start:
        return {**base, "error": f"{text} is after the current session {now.id}: only "
                                 "earlier bars and this session's open can be looked up"}
    asked = market.schedule.at(instant)
    if asked is None:
        return {**base, "error": f"{text} is not the start of a {market.title} session"}
    base["date"] = asked.id
    async with store.read() as conn:
        bar = await get_bar(conn, feed, sym, asked.id)
    if bar is None:
        return {**base, "error": f"no price for {sym} in session {asked.id}"}
    if asked.id == now.id:
        return {**base, **_open_only(bar.open, "this session")}
    return {**base, "ohlcv": _ohlcv(bar)}


async def _day_of_hours(store: Store, market: Market, feed: Feed, sym: str, day: date,
                        today: date, base: dict[str, Any]) -> dict[str, Any]:
    """A day's bar built from its hourly bars (an hourly run); today's: its open only."""
    sessions = market.sessions_of_day(day)
    if not sessions:
        return {**base, "error": f"no price for {sym} on {day} (not a {_exchange(market)} "
                                 "trading day)"}
    async with store.read() as conn:
        bars = await bars_between(conn, feed, sym, sessions[0].id, sessions[-1].id)
    if not bars:
        return {**base, "error": f"no price for {sym} on {day}"}
    if day == today:
        return {**base, **_open_only(bars[0].open, "today's trading day")}
    return {**base, "ohlcv": {
        "open": float(bars[0].open), "high": float(max(b.high for b in bars)),
        "low": float(min(b.low for b in bars)), "close": float(bars[-1].close),
        "volume": num(sum((b.volume for b in bars), Decimal(0)))}}


def _exchange(market: Market) -> str:
    name = market.schedule.calendar().name
    return {"XNYS": "NYSE", "XSHG": "Shanghai"}.get(name, name)


def _format(market: Market) -> str:
    if not market.hourly:
        return FORMAT
    first = market.sessions_of_day(market.schedule.calendar().sessions[-1])
    return HOURLY_FORMAT.format(example=first[0].id if first else "2025-10-31T10:00:00-04:00")
