"""The demo market: deterministic, seeded, synthetic bars for every market and frequency. Not
real prices.

Each symbol follows a random walk from a fixed anchor: a market factor shared by all symbols
(the benchmark series tracks it closely) times a per-symbol beta, plus the symbol's own
noise. The walk is drawn from generators seeded with (seed, feed, symbol) and stepped one
session at a time from the anchor, so the bar of a symbol in a session is the same whenever
and over whatever range it is generated. The US daily market keeps the seeds and parameters
it always had, so its bars are unchanged.

Realistic for each market: US stocks 25-700 USD in cents with QQQ near 400; SSE 50 stocks
3-1,500 CNY in fen with the index near 2,600, every bar inside the +-10% (STAR +-20%) band of
the previous trading day's close; crypto at its coins' price levels with 8 decimals, around
the clock. Hourly bars have the hour's share of a day's drift and volatility. Bars always
satisfy low <= open, close <= high. Every bar is stored with source "demo", and everything
that shows prices says so.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Sequence
from datetime import date, timedelta
from decimal import Decimal

import attrs

from aitrader.errors import InvalidInput
from aitrader.market.prices import Bar, Feed, source_span, upsert_bars
from aitrader.markets import Market
from aitrader.store import Store

ANCHOR = date(2024, 1, 2)
SOURCE = "demo"
LABEL = "synthetic demo market (not real prices)"

# crypto price levels at the anchor (USD), roughly those of January 2024
COIN_LEVELS = {"BTC-USDT": 45_000.0, "ETH-USDT": 2_300.0, "XRP-USDT": 0.6, "SOL-USDT": 100.0,
               "ADA-USDT": 0.6, "SUI-USDT": 0.8, "LINK-USDT": 15.0, "AVAX-USDT": 35.0,
               "LTC-USDT": 70.0, "DOT-USDT": 8.0}


@attrs.frozen
class Profile:
    """How one feed's synthetic market moves, per session."""

    per_day: int  # sessions per trading day
    drift: float  # the market factor's mean return per day
    vol: float  # its standard deviation per day
    stock_vol: tuple[float, float]  # a symbol's own daily volatility, drawn in this range
    price: tuple[float, float]  # a symbol's anchor price, log-uniform in this range
    index: tuple[str, float] | None  # the benchmark series and its anchor level
    places: int  # price decimals
    volume: tuple[float, float]  # daily volume range (log-uniform)
    legacy_seeds: bool = False  # US daily: the seeds it always had


def profile(market: Market) -> Profile:
    per_day = {"us": 6, "cn": 4, "crypto": 24}[market.key] if market.hourly else 1
    if market.key == "us":
        return Profile(per_day, 0.0005, 0.011, (0.008, 0.025), (25, 700), ("QQQ", 400.0), 2,
                       (1e6, 6e7), legacy_seeds=not market.hourly)
    if market.key == "cn":  # the SSE 50 index has daily bars; hourly runs use the replica
        index = None if market.hourly else (market.benchmark.symbol, 2_600.0)
        return Profile(per_day, 0.0003, 0.012, (0.008, 0.022), (3, 1500), index, 2,
                       (1e6, 8e7))
    return Profile(per_day, 0.001, 0.03, (0.015, 0.04), (0.5, 50_000), None, 8, (1e3, 1e6))


def _round(price: float, places: int) -> Decimal:
    """To `places` decimals (at least one step), the way the US demo always rounded."""
    return max(Decimal(1).scaleb(-places), Decimal(round(price * 10**places)).scaleb(-places))


def _market_returns(rng: random.Random, p: Profile, n: int) -> list[float]:
    root = math.sqrt(p.per_day)
    return [rng.gauss(p.drift / p.per_day, p.vol / root) for _ in range(n)]


def _symbol_walk(rng: random.Random, p: Profile, symbol: str, market: Sequence[float]
                 ) -> Iterator[tuple[float, ...]]:
    """(open, high, low, close, volume) per session from the anchor, unrounded."""
    root = math.sqrt(p.per_day)
    if p.index and symbol == p.index[0]:
        price, beta, vol, volume = p.index[1], 1.0, 0.002 / root, 4.0e7
    else:
        price = COIN_LEVELS.get(symbol) or math.exp(
            rng.uniform(math.log(p.price[0]), math.log(p.price[1])))
        beta, vol = rng.uniform(0.6, 1.6), rng.uniform(*p.stock_vol) / root
        volume = math.exp(rng.uniform(math.log(p.volume[0]), math.log(p.volume[1])))
    volume /= p.per_day
    drift = rng.uniform(-0.0002, 0.0006) / p.per_day
    for m in market:
        ret = beta * m + rng.gauss(drift, vol)
        gap = rng.gauss(0.0, 0.35 * (vol + abs(m)))
        open_ = price * math.exp(gap)
        close = price * math.exp(ret)
        wick = 0.5 * vol + 0.002 / root
        wick_hi, wick_lo = abs(rng.gauss(0, wick)), abs(rng.gauss(0, wick))
        high = max(open_, close) * (1 + wick_hi)
        low = min(open_, close) * (1 - wick_lo)
        shares = volume * math.exp(rng.gauss(0, 0.3))
        yield open_, high, low, close, shares
        price = close


def _rng(seed: int, market: Market, name: str, p: Profile) -> random.Random:
    return random.Random(f"{seed}:{name}" if p.legacy_seeds else f"{seed}:{market.label}:{name}")


def series(market: Market) -> tuple[str, ...]:
    """What the demo market generates for `market`: its universe and its benchmark series."""
    idx = profile(market).index
    return (*market.universe, *((idx[0],) if idx else ()))


def generate(market: Market, start: date, end: date, *, seed: int,
             symbols: Sequence[str] | None = None) -> Iterator[Bar]:
    """Demo bars for every session of the trading days start..end (start no earlier than the
    anchor)."""
    if start < ANCHOR:
        raise InvalidInput(f"the demo market starts on {ANCHOR.isoformat()}", field="start")
    if end < start:
        raise InvalidInput("end is before start", field="end")
    p = profile(market)
    sessions = market.sessions(ANCHOR, end)
    factor = _market_returns(_rng(seed, market, "market", p), p, len(sessions))
    for symbol in symbols or series(market):
        limited = market.limits is not None and symbol in market.symbols
        band: tuple[Decimal, Decimal] | None = None
        day, last_close = None, None
        walk = _symbol_walk(_rng(seed, market, symbol, p), p, symbol, factor)
        for s, (o, h, lo, c, v) in zip(sessions, walk, strict=True):
            if s.day != day:  # a new trading day: its limits come from the last close
                day = s.day
                if limited and last_close is not None:
                    assert market.limits is not None
                    band = market.limits.band(symbol, last_close)
            opened, closed = _round(o, p.places), _round(c, p.places)
            high = max(_round(h, p.places), opened, closed)
            low = min(_round(lo, p.places), opened, closed)
            if band is not None:
                opened, high, low, closed = (min(max(x, band[0]), band[1])
                                             for x in (opened, high, low, closed))
            last_close = closed
            if s.day < start:
                continue
            volume = Decimal(int(v)) if p.places <= 4 else _round(v, 4)
            yield Bar(symbol=symbol, session=s.id, open=opened, high=high, low=low,
                      close=closed, volume=volume, source=SOURCE)


async def ensure(store: Store, market: Market, init_date: date, seed: int) -> int:
    """The demo market from 60 days before `init_date` (not before the anchor) up to the
    latest closed session, unless it is there already; returns the bars written."""
    end = market.schedule.calendar().last_closed()
    start = max(ANCHOR, init_date - timedelta(60))
    sessions = market.sessions(start, end)
    feed = Feed(market.key, market.frequency)
    have = await source_span(store, feed, series(market)[-1], SOURCE)
    if not sessions or (have and have[0] <= sessions[0].id and have[1] >= sessions[-1].id):
        return 0
    return await upsert_bars(store, feed, generate(market, start, end, seed=seed))
