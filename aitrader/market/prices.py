"""The prices table: one daily bar per (symbol, date), with where it came from."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date

import aiosqlite
import attrs

from aitrader.store import Store


@attrs.frozen
class Bar:
    symbol: str
    date: str
    open_e4: int
    high_e4: int
    low_e4: int
    close_e4: int
    volume: int
    source: str

    def problem(self) -> str | None:
        """Why this bar is not a sane daily bar, or None."""
        if min(self.open_e4, self.high_e4, self.low_e4, self.close_e4) <= 0:
            return "a price is zero or negative"
        if self.high_e4 < max(self.open_e4, self.close_e4, self.low_e4):
            return "high is below open, close or low"
        if self.low_e4 > min(self.open_e4, self.close_e4):
            return "low is above open or close"
        if self.volume < 0:
            return "negative volume"
        return None


_COLUMNS = "symbol, date, open_e4, high_e4, low_e4, close_e4, volume, source"


def _row_to_bar(row: aiosqlite.Row) -> Bar:
    return Bar(*row)


async def upsert_bars(store: Store, bars: Iterable[Bar]) -> int:
    """Insert or replace bars in one transaction; returns how many were written."""
    rows = [attrs.astuple(b) for b in bars]
    if not rows:
        return 0
    async with store.write() as conn:
        await conn.executemany(
            f"INSERT INTO prices ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (symbol, date) DO UPDATE SET open_e4 = excluded.open_e4, "
            "high_e4 = excluded.high_e4, low_e4 = excluded.low_e4, close_e4 = excluded.close_e4, "
            "volume = excluded.volume, source = excluded.source",
            rows,
        )
    return len(rows)


async def get_bar(conn: aiosqlite.Connection, symbol: str, day: str) -> Bar | None:
    cur = await conn.execute(
        f"SELECT {_COLUMNS} FROM prices WHERE symbol = ? AND date = ?", (symbol, day)
    )
    row = await cur.fetchone()
    return _row_to_bar(row) if row else None


async def bars_on(conn: aiosqlite.Connection, day: str) -> dict[str, Bar]:
    cur = await conn.execute(f"SELECT {_COLUMNS} FROM prices WHERE date = ?", (day,))
    return {row[0]: _row_to_bar(row) for row in await cur.fetchall()}


async def closes_between(
    store: Store, symbols: Sequence[str], start: str, end: str
) -> dict[str, dict[str, int]]:
    """{date: {symbol: close_e4}} for the symbols over [start, end]."""
    out: dict[str, dict[str, int]] = {}
    if not symbols:
        return out
    marks = ",".join("?" * len(symbols))
    async with store.read() as conn:
        cur = await conn.execute(
            f"SELECT date, symbol, close_e4 FROM prices WHERE symbol IN ({marks}) "
            "AND date BETWEEN ? AND ? ORDER BY date",
            (*symbols, start, end),
        )
        for day, sym, close in await cur.fetchall():
            out.setdefault(day, {})[sym] = close
    return out


async def last_close_before(
    conn: aiosqlite.Connection, symbol: str, day: str
) -> tuple[str, int] | None:
    """The latest (date, close) on or before `day` (for a symbol with no bar on `day`)."""
    cur = await conn.execute(
        "SELECT date, close_e4 FROM prices WHERE symbol = ? AND date <= ? "
        "ORDER BY date DESC LIMIT 1",
        (symbol, day),
    )
    row = await cur.fetchone()
    return (row[0], row[1]) if row else None


async def data_dates(store: Store, symbol: str | None = None) -> list[str]:
    """Dates that have at least one bar (of `symbol`, if given), ascending."""
    async with store.read() as conn:
        if symbol:
            cur = await conn.execute(
                "SELECT date FROM prices WHERE symbol = ? ORDER BY date", (symbol,)
            )
        else:
            cur = await conn.execute("SELECT DISTINCT date FROM prices ORDER BY date")
        return [r[0] for r in await cur.fetchall()]


async def source_span(store: Store, symbol: str, source: str) -> tuple[str, str] | None:
    """(first, last) date of `symbol`'s bars from `source`, or None."""
    async with store.read() as conn:
        cur = await conn.execute(
            "SELECT MIN(date), MAX(date) FROM prices WHERE symbol = ? AND source = ?",
            (symbol, source))
        row = await cur.fetchone()
    return (row[0], row[1]) if row and row[0] else None


async def dates_with_data(store: Store, days: Sequence[str]) -> set[str]:
    """Those of `days` that have at least one bar."""
    if not days:
        return set()
    async with store.read() as conn:
        cur = await conn.execute(
            f"SELECT DISTINCT date FROM prices WHERE date IN ({','.join('?' * len(days))})",
            tuple(days))
        return {r[0] for r in await cur.fetchall()}


@attrs.frozen
class SymbolSpan:
    symbol: str
    first: str
    last: str
    bars: int
    sources: str


async def spans(store: Store) -> list[SymbolSpan]:
    async with store.read() as conn:
        cur = await conn.execute(
            "SELECT symbol, MIN(date), MAX(date), COUNT(*), GROUP_CONCAT(DISTINCT source) "
            "FROM prices GROUP BY symbol ORDER BY symbol"
        )
        return [SymbolSpan(*row) for row in await cur.fetchall()]


async def latest_trading_day(store: Store, benchmark: str = "QQQ") -> date | None:
    """The most recent session with data: the latest date the benchmark (else any symbol) has."""
    async with store.read() as conn:
        cur = await conn.execute("SELECT MAX(date) FROM prices WHERE symbol = ?", (benchmark,))
        row = await cur.fetchone()
        if not row or row[0] is None:
            cur = await conn.execute("SELECT MAX(date) FROM prices")
            row = await cur.fetchone()
    return date.fromisoformat(row[0]) if row and row[0] else None
