"""The demo market: deterministic, sane bars, labelled synthetic, up to the latest session."""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aitrader import markets
from aitrader.errors import InvalidInput
from aitrader.market import demo
from aitrader.market.calendar import nyse
from aitrader.market.prices import (
    US_DAILY,
    Feed,
    data_dates,
    latest_trading_day,
    upsert_bars,
)
from aitrader.market.symbols import ALL_SYMBOLS, BENCHMARK
from aitrader.store import Store

CENT = Decimal("0.01")


def test_same_symbol_and_date_give_the_same_bar_whatever_the_range() -> None:
    """A bar does not depend on the range it was generated in."""
    wide = {(b.symbol, b.session): b for b in demo.generate(
        markets.get(), date(2025, 1, 2), date(2025, 10, 31), seed=5, symbols=["AAPL", "QQQ"])}
    narrow = list(demo.generate(markets.get(), date(2025, 10, 20), date(2025, 10, 24), seed=5,
                                symbols=["AAPL", "QQQ"]))
    assert len(narrow) == 10
    for bar in narrow:
        assert wide[(bar.symbol, bar.session)] == bar


def test_seed_changes_the_market() -> None:
    """Another seed is another market."""
    us = markets.get()
    a = list(demo.generate(us, date(2025, 10, 1), date(2025, 10, 3), seed=1, symbols=["MSFT"]))
    b = list(demo.generate(us, date(2025, 10, 1), date(2025, 10, 3), seed=2, symbols=["MSFT"]))
    assert [x.close for x in a] != [x.close for x in b]


def test_covers_the_universe_and_only_sessions() -> None:
    """Every NASDAQ-100 symbol plus QQQ, one bar per NYSE session (no holidays)."""
    cal = nyse()
    bars = list(demo.generate(markets.get(), date(2025, 6, 30), date(2025, 7, 8), seed=3))
    assert {b.symbol for b in bars} == set(ALL_SYMBOLS)
    assert {b.session for b in bars} == {d.isoformat() for d in cal.between(
        date(2025, 6, 30), date(2025, 7, 8))}
    assert "2025-07-04" not in {b.session for b in bars}
    assert all(b.source == "demo" for b in bars)


@settings(max_examples=60, deadline=None)
@given(st.dates(min_value=date(2024, 1, 2), max_value=date(2026, 11, 1)),
       st.sampled_from(ALL_SYMBOLS), st.integers(0, 2**31))
def test_bars_are_realistic(day: date, symbol: str, seed: int) -> None:
    """high >= max(open, close) >= min(open, close) >= low > 0, cents, moves of a day."""
    bars = list(demo.generate(markets.get(), day, day + timedelta(days=10), seed=seed,
                              symbols=[symbol]))
    for prev, bar in itertools.pairwise(bars):
        assert bar.problem() is None
        assert bar.high >= max(bar.open, bar.close)
        assert bar.low <= min(bar.open, bar.close)
        assert bar.open % CENT == 0 and bar.close % CENT == 0
        assert bar.volume > 0
        assert 0.6 < bar.close / prev.close < 1.6


def test_qqq_tracks_the_market_factor() -> None:
    """The stocks move with QQQ: their average daily return correlates with QQQ's."""
    bars = list(demo.generate(markets.get(), date(2025, 1, 2), date(2025, 6, 30), seed=9))
    closes: dict[str, list[float]] = {}
    for b in bars:
        closes.setdefault(b.symbol, []).append(float(b.close))
    rets = {s: [b / a - 1 for a, b in itertools.pairwise(c)] for s, c in closes.items()}
    q = rets[BENCHMARK]
    avg = [sum(r[i] for s, r in rets.items() if s != BENCHMARK) / 101 for i in range(len(q))]
    mq, ma = sum(q) / len(q), sum(avg) / len(avg)
    cov = sum((x - mq) * (y - ma) for x, y in zip(q, avg, strict=True))
    var_q = sum((x - mq) ** 2 for x in q)
    var_a = sum((y - ma) ** 2 for y in avg)
    assert cov / (var_q * var_a) ** 0.5 > 0.8


def test_refuses_before_the_anchor() -> None:
    """The walk starts at the anchor; earlier dates are refused, not invented."""
    with pytest.raises(InvalidInput):
        list(demo.generate(markets.get(), date(2023, 12, 1), date(2024, 1, 10), seed=1))


async def test_the_latest_trading_day_is_the_last_stored_session(store: Store) -> None:
    """Bars up to Friday 31 October 2025: that is the latest trading day, whatever today is;
    a symbol with a later bar than QQQ does not move it."""
    us = markets.get()
    await upsert_bars(store, US_DAILY, demo.generate(us, date(2025, 10, 20), date(2025, 10, 31),
                                                     seed=1, symbols=[BENCHMARK, "AAPL"]))
    assert await latest_trading_day(store) == date(2025, 10, 31)
    await upsert_bars(store, US_DAILY, demo.generate(us, date(2025, 11, 3), date(2025, 11, 3),
                                                     seed=1, symbols=["AAPL"]))
    assert await latest_trading_day(store) == date(2025, 10, 31)  # QQQ decides


async def test_ensure_covers_the_init_date_to_the_latest_closed_session(store: Store) -> None:
    """`demo.ensure` writes from 60 days before the init date to the latest closed session,
    once; a second call writes nothing."""
    written = await demo.ensure(store, markets.get(), date(2025, 10, 1), seed=1)
    first, last = await data_dates(store, US_DAILY, BENCHMARK), nyse().last_closed()
    assert first[0] == "2025-08-04"  # 1 Oct minus 60 days is Sat 2 Aug: the next session
    assert first[-1] == last.isoformat()
    assert written == len(first) * 102  # every NASDAQ-100 symbol and QQQ, each session
    assert await demo.ensure(store, markets.get(), date(2025, 10, 1), seed=1) == 0


def test_us_daily_bars_are_the_ones_they_always_were() -> None:
    """Markets did not change the US demo market: the same seed gives the same bars."""
    bars = list(demo.generate(markets.get(), date(2025, 10, 1), date(2025, 10, 2), seed=21,
                              symbols=["AAPL", "QQQ"]))
    assert [(b.symbol, b.session, b.open, b.close) for b in bars] == [
        ("AAPL", "2025-10-01", Decimal("426.71"), Decimal("434.68")),
        ("AAPL", "2025-10-02", Decimal("431.74"), Decimal("441.80")),
        ("QQQ", "2025-10-01", Decimal("652.67"), Decimal("653.99")),
        ("QQQ", "2025-10-02", Decimal("654.10"), Decimal("659.57"))]


@pytest.mark.parametrize(("key", "freq", "per_day", "places", "bench"), [
    ("us", "hourly", 6, 2, "QQQ"), ("cn", "daily", 1, 2, "000016.SH"),
    ("cn", "hourly", 4, 2, None), ("crypto", "daily", 1, 8, None),
    ("crypto", "hourly", 24, 8, None)])
def test_every_market_and_frequency(key: str, freq: str, per_day: int, places: int,
                                    bench: str | None) -> None:
    """Every session of the range, every symbol (and the benchmark series where one has
    bars), sane bars at the market's precision, the same bar whatever the range."""
    m = markets.get(key, freq)
    start, end = date(2025, 11, 6), date(2025, 11, 12)
    bars = list(demo.generate(m, start, end, seed=4))
    sessions = m.sessions(start, end)
    assert len(sessions) == per_day * len(m.schedule.calendar().between(start, end))
    expected = set(m.universe) | ({bench} if bench else set())
    assert {b.symbol for b in bars} == expected
    assert len(bars) == len(sessions) * len(expected)
    assert {b.session for b in bars} == {s.id for s in sessions}
    step = Decimal(1).scaleb(-places)
    assert all(b.problem() is None and b.open % step == 0 and b.close % step == 0
               for b in bars)
    narrow = list(demo.generate(m, date(2025, 11, 10), date(2025, 11, 10), seed=4))
    wide = {(b.symbol, b.session): b for b in bars}
    assert narrow and all(wide[(b.symbol, b.session)] == b for b in narrow)


def test_cn_bars_stay_inside_the_price_limits_and_crypto_at_coin_levels() -> None:
    cn = markets.get("cn", "hourly")
    bars = list(demo.generate(cn, date(2024, 1, 2), date(2024, 12, 31), seed=8,
                              symbols=["600519.SH", "688981.SH"]))
    limits = cn.limits
    assert limits is not None
    last: dict[str, Decimal] = {}
    day: dict[str, str] = {}
    band: dict[str, tuple[Decimal, Decimal]] = {}
    for b in bars:
        if b.session[:10] != day.get(b.symbol) and b.symbol in last:
            band[b.symbol] = limits.band(b.symbol, last[b.symbol])
        day[b.symbol] = b.session[:10]
        if b.symbol in band:
            lo, hi = band[b.symbol]
            assert lo <= b.low <= b.high <= hi, b
        last[b.symbol] = b.close
    btc = list(demo.generate(markets.get("crypto"), date(2025, 11, 8), date(2025, 11, 9),
                             seed=8, symbols=["BTC-USDT", "XRP-USDT"]))
    assert [b.session for b in btc[:2]] == ["2025-11-08", "2025-11-09"]  # the weekend too
    assert Decimal(10_000) < btc[0].close < Decimal(1_000_000)
    assert Decimal("0.01") < btc[-1].close < Decimal(100)


async def test_ensure_for_another_market(store: Store) -> None:
    cn = markets.get("cn")
    written = await demo.ensure(store, cn, date(2025, 10, 9), seed=1)
    feed = Feed("cn", "daily")
    got = await data_dates(store, feed, "000016.SH")
    assert written == len(got) * 51 and got[0] >= "2025-08-10"
    assert await data_dates(store, US_DAILY) == []  # nothing of another market
    assert await demo.ensure(store, cn, date(2025, 10, 9), seed=1) == 0
