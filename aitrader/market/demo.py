"""The demo market: a deterministic, seeded, synthetic NASDAQ-100 + QQQ. Not real prices.

Each symbol follows a random walk from a fixed anchor session: a market factor shared by all
symbols (QQQ tracks it closely) times a per-symbol beta, plus the symbol's own noise. The walk
is drawn from a generator seeded with (seed, symbol) and stepped one session at a time from the
anchor, so the bar of a symbol on a date is the same whenever and over whatever range it is
generated. Bars are rounded to cents and always satisfy low <= open, close <= high.
Every bar is stored with source "demo", and everything that shows prices says so.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Sequence
from datetime import date, timedelta
from decimal import Decimal

from aitrader.errors import InvalidInput
from aitrader.market.calendar import Calendar, nyse
from aitrader.market.prices import US_DAILY, Bar, source_span, upsert_bars
from aitrader.market.symbols import ALL_SYMBOLS, BENCHMARK
from aitrader.store import Store

ANCHOR = date(2024, 1, 2)
SOURCE = "demo"
LABEL = "synthetic demo market (not real prices)"
CENT = Decimal("0.01")


def _cents(price: float) -> Decimal:
    return max(CENT, Decimal(round(price * 100)) / 100)


def _market_returns(seed: int, n: int) -> list[float]:
    rng = random.Random(f"{seed}:market")
    return [rng.gauss(0.0005, 0.011) for _ in range(n)]


def _symbol_walk(seed: int, symbol: str, market: Sequence[float]) -> Iterator[tuple[float, ...]]:
    """(open, high, low, close, volume) per session from the anchor, unrounded."""
    rng = random.Random(f"{seed}:{symbol}")
    if symbol == BENCHMARK:
        price, beta, vol, volume = 400.0, 1.0, 0.002, 4.0e7
    else:
        price = math.exp(rng.uniform(math.log(25), math.log(700)))
        beta, vol = rng.uniform(0.6, 1.6), rng.uniform(0.008, 0.025)
        volume = math.exp(rng.uniform(math.log(1e6), math.log(6e7)))
    drift = rng.uniform(-0.0002, 0.0006)
    for m in market:
        ret = beta * m + rng.gauss(drift, vol)
        gap = rng.gauss(0.0, 0.35 * (vol + abs(m)))
        open_ = price * math.exp(gap)
        close = price * math.exp(ret)
        wick = 0.5 * vol + 0.002
        wick_hi, wick_lo = abs(rng.gauss(0, wick)), abs(rng.gauss(0, wick))
        high = max(open_, close) * (1 + wick_hi)
        low = min(open_, close) * (1 - wick_lo)
        shares = volume * math.exp(rng.gauss(0, 0.3))
        yield open_, high, low, close, shares
        price = close


def generate(
    calendar: Calendar,
    start: date,
    end: date,
    *,
    seed: int,
    symbols: Sequence[str] = ALL_SYMBOLS,
) -> Iterator[Bar]:
    """Demo bars for every session in [start, end] (start no earlier than the anchor)."""
    if start < ANCHOR:
        raise InvalidInput(f"the demo market starts on {ANCHOR.isoformat()}", field="start")
    if end < start:
        raise InvalidInput("end is before start", field="end")
    sessions = calendar.between(ANCHOR, end)
    market = _market_returns(seed, len(sessions))
    first = next((i for i, s in enumerate(sessions) if s >= start), len(sessions))
    for symbol in symbols:
        for i, (o, h, lo, c, v) in enumerate(_symbol_walk(seed, symbol, market)):
            if i < first:
                continue
            opened, closed = _cents(o), _cents(c)
            yield Bar(
                symbol=symbol,
                session=sessions[i].isoformat(),
                open=opened,
                high=max(_cents(h), opened, closed),
                low=min(_cents(lo), opened, closed),
                close=closed,
                volume=Decimal(int(v)),
                source=SOURCE,
            )


async def ensure(store: Store, init_date: date, seed: int) -> int:
    """The demo market from 60 days before `init_date` (not before the anchor) up to the
    latest closed NYSE session, unless it is there already; returns the bars written."""
    cal = nyse()
    end = cal.last_closed()
    start = max(ANCHOR, init_date - timedelta(60))
    sessions = cal.between(start, end)
    have = await source_span(store, US_DAILY, BENCHMARK, SOURCE)
    if not sessions or (have and have[0] <= sessions[0].isoformat()
                        and have[1] >= end.isoformat()):
        return 0
    return await upsert_bars(store, US_DAILY, generate(cal, start, end, seed=seed))
