"""Value series over a window, for models (from their end-of-day holdings) and for QQQ.

A series starts at a baseline point, the model's value just before the window (its initial
cash on its init date, or its snapshot at the last session before the window), then has one
point per session with data: cash + shares x that session's close. Sessions a model did not
trade carry its last snapshot (positions carry over). The QQQ benchmark buys as many whole
shares as the starting cash allows at the open of the first session after the baseline and
holds them: the same rules the models trade by.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import attrs

from aitrader.errors import DataError, NotFound
from aitrader.ledger.metrics import Metrics, compute
from aitrader.market.calendar import Calendar
from aitrader.market.prices import (
    US_DAILY,
    any_demo_between,
    closes_between,
    get_bar,
    last_close_before,
    latest_session,
)
from aitrader.market.symbols import BENCHMARK
from aitrader.money import mul
from aitrader.store import Store, scalar

FEED = US_DAILY


@attrs.frozen
class Point:
    date: str
    amount: Decimal  # the exact value

    @property
    def value(self) -> float:
        return float(self.amount)


@attrs.frozen
class Series:
    name: str
    points: tuple[Point, ...]
    metrics: Metrics

    def daily(self) -> list[dict[str, object]]:
        out: list[dict[str, object]] = []
        for prev, pt in zip((None, *self.points), self.points, strict=False):
            ret = (float(pt.amount / prev.amount) - 1) * 100 if prev and prev.amount else 0.0
            out.append(
                {
                    "date": pt.date,
                    "portfolio_value": round(pt.value, 4),
                    "daily_return_pct": round(ret, 6),
                }
            )
        return out


async def _sessions_with_data(store: Store, cal: Calendar, after: str, end: str) -> list[str]:
    async with store.read() as conn:
        cur = await conn.execute(
            "SELECT session FROM bars WHERE market = ? AND frequency = ? AND symbol = ? "
            "AND session > ? AND session <= ? ORDER BY session",
            (FEED.market, FEED.frequency, BENCHMARK, after, end),
        )
        days = [r[0] for r in await cur.fetchall()]
    return [d for d in days if cal.is_session(date.fromisoformat(d))]


async def baseline(store: Store, model: str, start: str, cal: Calendar
                   ) -> tuple[str, Decimal]:
    """(date, value) of the model just before the window starting at `start`."""
    async with store.read() as conn:
        cur = await conn.execute(
            "SELECT initial_cash, init_date FROM models WHERE signature = ?", (model,)
        )
        row = await cur.fetchone()
        if not row:
            raise NotFound(f"unknown model {model}", model=model)
        cash, init_date = Decimal(row[0]), row[1]
        before = cal.previous(date.fromisoformat(start))
        b = before.isoformat() if before else init_date
        if b <= init_date:
            return init_date, cash
        snap = await scalar(
            conn, "SELECT MAX(date) FROM eod WHERE model = ? AND date <= ?", (model, b)
        )
    if snap is None:
        return b, cash
    value = await _value_on(store, model, snap, b)
    return b, value


async def _value_on(store: Store, model: str, snap: str, day: str) -> Decimal:
    async with store.read() as conn:
        value = Decimal(await scalar(
            conn, "SELECT cash FROM eod WHERE model = ? AND date = ?", (model, snap)))
        cur = await conn.execute(
            "SELECT symbol, quantity FROM holdings WHERE model = ? AND date = ?", (model, snap)
        )
        for sym, n in await cur.fetchall():
            found = await last_close_before(conn, FEED, sym, day)
            if not found:
                raise DataError(f"no close for {sym} on or before {day}")
            value += mul(Decimal(n), found[1])
    return value


async def model_series(
    store: Store, model: str, start: str, end: str, cal: Calendar, *, risk_free: float = 0.0
) -> Series:
    b_date, b_value = await baseline(store, model, start, cal)
    sessions = await _sessions_with_data(store, cal, b_date, end)
    async with store.read() as conn:
        cur = await conn.execute(
            "SELECT date, cash FROM eod WHERE model = ? AND date <= ? ORDER BY date",
            (model, end),
        )
        snaps = [(d, Decimal(c)) for d, c in await cur.fetchall()]
        cur = await conn.execute(
            "SELECT date, symbol, quantity FROM holdings WHERE model = ? AND date <= ?",
            (model, end))
        held: dict[str, dict[str, Decimal]] = {}
        for d, sym, n in await cur.fetchall():
            held.setdefault(d, {})[sym] = Decimal(n)
    symbols = sorted({s for h in held.values() for s in h})
    closes = await closes_between(store, FEED, symbols, b_date, end)
    last_close: dict[str, Decimal] = {}
    if symbols:
        async with store.read() as conn:
            for sym in symbols:
                found = await last_close_before(conn, FEED, sym, b_date)
                if found:
                    last_close[sym] = found[1]
    points = [Point(b_date, b_value)]
    i, cur_snap = 0, None
    for day in sessions:
        while i < len(snaps) and snaps[i][0] <= day:
            cur_snap = snaps[i]
            i += 1
        last_close.update(closes.get(day, {}))
        if cur_snap is None:
            points.append(Point(day, points[0].amount))
            continue
        value = cur_snap[1]
        for sym, n in held.get(cur_snap[0], {}).items():
            if sym not in last_close:
                raise DataError(f"no close for {sym} on or before {day}")
            value += mul(n, last_close[sym])
        points.append(Point(day, value))
    return Series(
        model, tuple(points), compute([p.value for p in points], risk_free_annual=risk_free)
    )


async def benchmark_series(
    store: Store, b_date: str, cash: Decimal, end: str, cal: Calendar, *,
    risk_free: float = 0.0
) -> Series:
    sessions = await _sessions_with_data(store, cal, b_date, end)
    if not sessions:
        raise DataError(f"no {BENCHMARK} data after {b_date}")
    async with store.read() as conn:
        bar = await get_bar(conn, FEED, BENCHMARK, sessions[0])
    assert bar is not None
    shares = cash // bar.open
    left = cash - mul(shares, bar.open)
    closes = await closes_between(store, FEED, [BENCHMARK], sessions[0], end)
    points = [Point(b_date, cash)]
    points += [Point(d, left + mul(shares, closes[d][BENCHMARK])) for d in sessions]
    return Series(
        BENCHMARK, tuple(points), compute([p.value for p in points], risk_free_annual=risk_free)
    )


class NotImplementedFeed(DataError):
    """Performance for a market and frequency that has no benchmark and series yet."""


@attrs.frozen
class Leaderboard:
    start: str
    end: str
    models: tuple[Series, ...]
    benchmark: Series | None
    synthetic: bool  # the window's prices include demo bars


async def leaderboard(
    store: Store,
    cal: Calendar,
    *,
    start: str | None = None,
    end: str | None = None,
    models: list[str] | None = None,
    risk_free: float = 0.0,
) -> Leaderboard:
    async with store.read() as conn:
        cur = await conn.execute(
            "SELECT signature, init_date, initial_cash, market, frequency FROM models "
            "ORDER BY signature")
        every = [r for r in await cur.fetchall() if models is None or r[0] in models]
    # the leaderboard is NASDAQ-100 daily's (QQQ): other markets' benchmarks, sessions per
    # year and series are not built yet (issue 13); their models are not mixed in here
    rows = [(m, d, Decimal(c)) for m, d, c, mk, f in every if (mk, f) == ("us", "daily")]
    last = await latest_session(store, FEED, BENCHMARK)
    if not rows and every:
        kinds = sorted({f"{mk}/{f}" for *_, mk, f in every})
        raise NotImplementedFeed(
            f"performance is computed for NASDAQ-100 daily models only so far; "
            f"{', '.join(kinds)} is not built yet (see /results for their sessions)")
    if not rows:
        raise NotFound("no models in the ledger yet")
    if not last:
        raise DataError(f"no {BENCHMARK} prices; import or generate prices first")
    end = min(end or last, last)
    start = start or min(r[1] for r in rows)
    series = [await model_series(store, r[0], start, end, cal, risk_free=risk_free) for r in rows]
    series.sort(key=lambda s: s.metrics.end_value / s.metrics.start_value, reverse=True)
    b_date = min(s.points[0].date for s in series)
    cash = max(r[2] for r in rows)
    bench = await benchmark_series(store, b_date, cash, end, cal, risk_free=risk_free)
    synthetic = await any_demo_between(store, FEED, b_date, end)
    return Leaderboard(start, end, tuple(series), bench, synthetic)
