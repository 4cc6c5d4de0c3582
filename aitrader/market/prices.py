"""The bars table: one bar per (market, frequency, symbol, session), exact decimals, with where
it came from. A feed is one market at one frequency (`us/daily`, `cn/hourly`): every question
about prices is asked of one feed, so daily and hourly bars, or two markets, never mix."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal

import aiosqlite
import attrs

from aitrader.money import text
from aitrader.store import Store


@attrs.frozen
class Feed:
    market: str = "us"
    frequency: str = "daily"

    def __str__(self) -> str:
        return f"{self.market}/{self.frequency}"


US_DAILY = Feed()


@attrs.frozen
class Bar:
    symbol: str
    session: str  # the session id (the date, for daily bars)
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    source: str

    def problem(self) -> str | None:
        """Why this bar is not a sane bar, or None."""
        if min(self.open, self.high, self.low, self.close) <= 0:
            return "a price is zero or negative"
        if self.high < max(self.open, self.close, self.low):
            return "high is below open, close or low"
        if self.low > min(self.open, self.close):
            return "low is above open or close"
        if self.volume < 0:
            return "negative volume"
        return None


_COLUMNS = "symbol, session, open, high, low, close, volume, source"


def _bar(row: Sequence[str]) -> Bar:
    sym, session, o, h, lo, c, v, source = row
    return Bar(sym, session, Decimal(o), Decimal(h), Decimal(lo), Decimal(c), Decimal(v), source)


async def upsert_bars(store: Store, feed: Feed, bars: Iterable[Bar]) -> int:
    """Insert or replace bars of one feed in one transaction; returns how many were written."""
    rows = [(feed.market, feed.frequency, b.symbol, b.session, text(b.open), text(b.high),
             text(b.low), text(b.close), text(b.volume), b.source) for b in bars]
    if not rows:
        return 0
    async with store.write() as conn:
        await conn.executemany(
            f"INSERT INTO bars (market, frequency, {_COLUMNS}) VALUES "
            "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (market, frequency, symbol, session) DO UPDATE SET "
            "open = excluded.open, high = excluded.high, low = excluded.low, "
            "close = excluded.close, volume = excluded.volume, source = excluded.source",
            rows,
        )
    return len(rows)


async def get_bar(conn: aiosqlite.Connection, feed: Feed, symbol: str, session: str
                  ) -> Bar | None:
    cur = await conn.execute(
        f"SELECT {_COLUMNS} FROM bars WHERE market = ? AND frequency = ? AND symbol = ? "
        "AND session = ?", (feed.market, feed.frequency, symbol, session))
    row = await cur.fetchone()
    return _bar(row) if row else None


async def bars_on(conn: aiosqlite.Connection, feed: Feed, session: str) -> dict[str, Bar]:
    cur = await conn.execute(
        f"SELECT {_COLUMNS} FROM bars WHERE market = ? AND frequency = ? AND session = ?",
        (feed.market, feed.frequency, session))
    return {row[0]: _bar(row) for row in await cur.fetchall()}


async def bars_between(conn: aiosqlite.Connection, feed: Feed, symbol: str, start: str,
                       end: str) -> list[Bar]:
    """The symbol's bars with start <= session <= end, in order."""
    cur = await conn.execute(
        f"SELECT {_COLUMNS} FROM bars WHERE market = ? AND frequency = ? AND symbol = ? "
        "AND session BETWEEN ? AND ? ORDER BY session",
        (feed.market, feed.frequency, symbol, start, end))
    return [_bar(row) for row in await cur.fetchall()]


async def closes_between(
    store: Store, feed: Feed, symbols: Sequence[str], start: str, end: str
) -> dict[str, dict[str, Decimal]]:
    """{session: {symbol: close}} for the symbols over [start, end]."""
    out: dict[str, dict[str, Decimal]] = {}
    if not symbols:
        return out
    marks = ",".join("?" * len(symbols))
    async with store.read() as conn:
        cur = await conn.execute(
            f"SELECT session, symbol, close FROM bars WHERE market = ? AND frequency = ? "
            f"AND symbol IN ({marks}) AND session BETWEEN ? AND ? ORDER BY session",
            (feed.market, feed.frequency, *symbols, start, end),
        )
        for session, sym, close in await cur.fetchall():
            out.setdefault(session, {})[sym] = Decimal(close)
    return out


async def last_close_before(
    conn: aiosqlite.Connection, feed: Feed, symbol: str, session: str
) -> tuple[str, Decimal] | None:
    """The latest (session, close) on or before `session` (for a symbol with no bar in it)."""
    cur = await conn.execute(
        "SELECT session, close FROM bars WHERE market = ? AND frequency = ? AND symbol = ? "
        "AND session <= ? ORDER BY session DESC LIMIT 1",
        (feed.market, feed.frequency, symbol, session),
    )
    row = await cur.fetchone()
    return (row[0], Decimal(row[1])) if row else None


async def data_dates(store: Store, feed: Feed, symbol: str | None = None) -> list[str]:
    """Sessions that have at least one bar (of `symbol`, if given), ascending."""
    async with store.read() as conn:
        if symbol:
            cur = await conn.execute(
                "SELECT session FROM bars WHERE market = ? AND frequency = ? AND symbol = ? "
                "ORDER BY session", (feed.market, feed.frequency, symbol))
        else:
            cur = await conn.execute(
                "SELECT DISTINCT session FROM bars WHERE market = ? AND frequency = ? "
                "ORDER BY session", (feed.market, feed.frequency))
        return [r[0] for r in await cur.fetchall()]


async def source_span(store: Store, feed: Feed, symbol: str, source: str
                      ) -> tuple[str, str] | None:
    """(first, last) session of `symbol`'s bars from `source`, or None."""
    async with store.read() as conn:
        cur = await conn.execute(
            "SELECT MIN(session), MAX(session) FROM bars WHERE market = ? AND frequency = ? "
            "AND symbol = ? AND source = ?", (feed.market, feed.frequency, symbol, source))
        row = await cur.fetchone()
    return (row[0], row[1]) if row and row[0] else None


async def dates_with_data(store: Store, feed: Feed, days: Sequence[str]) -> set[str]:
    """Those of the sessions `days` that have at least one bar."""
    if not days:
        return set()
    async with store.read() as conn:
        cur = await conn.execute(
            "SELECT DISTINCT session FROM bars WHERE market = ? AND frequency = ? AND "
            f"session IN ({','.join('?' * len(days))})",
            (feed.market, feed.frequency, *days))
        return {r[0] for r in await cur.fetchall()}


async def any_demo_between(store: Store, feed: Feed, start: str, end: str) -> bool:
    """Whether any bar of the feed in [start, end] is synthetic demo data."""
    async with store.read() as conn:
        cur = await conn.execute(
            "SELECT 1 FROM bars WHERE market = ? AND frequency = ? AND source = 'demo' "
            "AND session BETWEEN ? AND ? LIMIT 1", (feed.market, feed.frequency, start, end))
        return await cur.fetchone() is not None


async def has_session(conn: aiosqlite.Connection, feed: Feed, session: str) -> bool:
    cur = await conn.execute(
        "SELECT 1 FROM bars WHERE market = ? AND frequency = ? AND session = ? LIMIT 1",
        (feed.market, feed.frequency, session))
    return await cur.fetchone() is not None


@attrs.frozen
class SymbolSpan:
    symbol: str
    first: str
    last: str
    bars: int
    sources: str


async def spans(store: Store, feed: Feed) -> list[SymbolSpan]:
    async with store.read() as conn:
        cur = await conn.execute(
            "SELECT symbol, MIN(session), MAX(session), COUNT(*), GROUP_CONCAT(DISTINCT source) "
            "FROM bars WHERE market = ? AND frequency = ? GROUP BY symbol ORDER BY symbol",
            (feed.market, feed.frequency))
        return [SymbolSpan(*row) for row in await cur.fetchall()]


async def latest_session(store: Store, feed: Feed, benchmark: str | None = None) -> str | None:
    """The most recent session with data: the benchmark's latest, else any symbol's."""
    async with store.read() as conn:
        row = None
        if benchmark:
            cur = await conn.execute(
                "SELECT MAX(session) FROM bars WHERE market = ? AND frequency = ? "
                "AND symbol = ?", (feed.market, feed.frequency, benchmark))
            row = await cur.fetchone()
        if not row or row[0] is None:
            cur = await conn.execute(
                "SELECT MAX(session) FROM bars WHERE market = ? AND frequency = ?",
                (feed.market, feed.frequency))
            row = await cur.fetchone()
    return row[0] if row and row[0] else None


async def latest_trading_day(store: Store, benchmark: str = "QQQ",
                             feed: Feed = US_DAILY) -> date | None:
    """The trading day of the most recent session with data."""
    found = await latest_session(store, feed, benchmark)
    return date.fromisoformat(found[:10]) if found else None
