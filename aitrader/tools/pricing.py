"""get_price_local: a daily bar as the model may see it on its simulated day.

Before the session date: the full bar. On the session date: the open only (high, low, close
and volume are not known until the close). After it: refused, without saying whether data
exists. Errors never list available dates.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from aitrader.market.calendar import Calendar
from aitrader.market.prices import US_DAILY, get_bar
from aitrader.market.symbols import ALL_SYMBOLS, normalise
from aitrader.store import Store
from aitrader.tools.identity import Identity

KNOWN = frozenset(ALL_SYMBOLS)


async def price_for(store: Store, cal: Calendar, ident: Identity, symbol: object,
                    day: object) -> dict[str, Any]:
    sym = normalise(symbol)[:16]
    text = str(day).strip()[:40]
    base: dict[str, Any] = {"symbol": sym, "date": text}
    try:
        if len(text) != 10:
            raise ValueError
        asked = date.fromisoformat(text)
    except ValueError:
        return {**base, "error": "date must be in YYYY-MM-DD format"}
    if sym not in KNOWN:
        return {**base, "error": f"unknown symbol {sym!r}: prices cover the NASDAQ-100 and QQQ"}
    today = ident.date
    if text > today:
        return {**base, "error": f"{text} is after today's trading date {today}: "
                                 "only earlier days and today's open can be looked up"}
    async with store.read() as conn:
        bar = await get_bar(conn, US_DAILY, sym, text)
    if bar is None:
        why = "" if cal.is_session(asked) else " (not a NYSE trading day)"
        return {**base, "error": f"no price for {sym} on {text}{why}"}
    if text == today:
        return {**base, "ohlcv": {"open": float(bar.open)},
                "note": "today's session is under way: only the open is known"}
    return {**base, "ohlcv": {
        "open": float(bar.open), "high": float(bar.high), "low": float(bar.low),
        "close": float(bar.close), "volume": int(bar.volume)}}
