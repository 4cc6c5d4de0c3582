"""Property-based, per market and frequency, through the ledger itself: random trades over
sessions that span several trading days (hourly: several sessions of one day) keep cash and
holdings >= 0, never sell what was bought on the same trading day (T+1), fill only amounts the
lot rule allows and only inside the price limits, and value every session at exactly
cash + sum(quantity x close). A-share bars locked at limit-up and limit-down are planted so
the limits are exercised, not just never reached."""

from __future__ import annotations

import asyncio
import tempfile
from collections import defaultdict
from datetime import date
from decimal import Decimal
from pathlib import Path

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aitrader import markets
from aitrader.errors import InvalidInput, TradeRefused
from aitrader.ledger import Ledger
from aitrader.ledger.invariants import violations
from aitrader.market import demo
from aitrader.market.prices import Feed, get_bar, upsert_bars
from aitrader.markets import Market
from aitrader.money import mul
from aitrader.store import Store

PAIRS = [(k, f) for k in markets.KNOWN for f in markets.FREQUENCIES]
FIRST, LAST = date(2025, 10, 9), date(2025, 10, 14)  # after the Golden Week holiday
UP, DOWN = "601318.SH", "600036.SH"  # A-shares locked at limit-up / limit-down on day 2


def symbols(market: Market) -> list[str]:
    if market.key == "cn":  # main board (incl. the two locked ones) and STAR
        return ["600519.SH", UP, DOWN, "688981.SH"]
    return list(market.universe[:3])


def amounts(market: Market) -> st.SearchStrategy[object]:
    if market.key == "crypto":
        return st.one_of(st.decimals(min_value=Decimal("0.00000001"), max_value=Decimal(3),
                                     places=8),
                         st.decimals(min_value=Decimal("0.000000001"), max_value=Decimal(1),
                                     places=10), st.sampled_from([0, -1, "x"]))
    if market.key == "cn":
        return st.one_of(st.sampled_from([100, 200, 300, 250, 150, 50, 1, 0, -100, 1000]),
                         st.integers(1, 900))
    return st.one_of(st.integers(-2, 30), st.sampled_from([0.5, "x", 10**9]))


def plans(market: Market) -> st.SearchStrategy[list[list[tuple[str, str, object]]]]:
    trade = st.tuples(st.sampled_from(["buy", "sell"]), st.sampled_from(symbols(market)),
                      amounts(market))
    return st.lists(st.lists(trade, max_size=8), min_size=1, max_size=8)


async def _market_data(store: Store, market: Market) -> list[str]:
    """Demo bars, with the two A-shares locked on the second trading day; the sessions."""
    feed = Feed(market.key, str(market.frequency))
    bars = list(demo.generate(market, date(2025, 9, 22), LAST, seed=11,
                              symbols=[*symbols(market), *market.benchmark.constituents()]))
    sessions = market.sessions(FIRST, LAST)
    if market.key == "cn" and market.limits:
        day2 = sessions[len(market.sessions_of_day(FIRST))].day
        for sym in (UP, DOWN):
            last_before = max((b for b in bars if b.symbol == sym
                               and b.session[:10] < day2.isoformat()), key=lambda b: b.session)
            down, up = market.limits.band(sym, last_before.close)
            price = up if sym == UP else down
            bars = [attrs.evolve(b, open=price, high=max(b.high, price), low=min(b.low, price))
                    if b.symbol == sym and b.session[:10] == day2.isoformat() else b
                    for b in bars]
    await upsert_bars(store, feed, bars)
    return [s.id for s in sessions][:12]


def _lot_ok(market: Market, action: str, sym: str, qty: Decimal, held: Decimal) -> bool:
    if market.key == "crypto":
        return qty > 0 and qty == qty.quantize(Decimal("1e-8"))
    if qty != qty.to_integral_value() or qty <= 0:
        return False
    if market.key == "us":
        return True
    if sym.startswith("688"):
        return qty >= 200 or (action == "sell" and qty == held)
    return qty % 100 == 0 or (action == "sell" and qty == held)


@pytest.mark.parametrize(("key", "freq"), PAIRS)
def test_random_trades_keep_every_rule(key: str, freq: str) -> None:
    market = markets.get(key, freq)

    @settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(plan=plans(market))
    def run(plan: list[list[tuple[str, str, object]]]) -> None:
        async def one() -> None:
            with tempfile.TemporaryDirectory() as tmp:
                async with Store(Path(tmp) / "p.db") as store:
                    await check(store, market, plan)

        asyncio.run(one())

    run()


async def check(store: Store, market: Market, plan: list[list[tuple[str, str, object]]]
                ) -> None:
    sessions = await _market_data(store, market)
    feed = Feed(market.key, str(market.frequency))
    ledger = Ledger(store)
    await ledger.register_model("p", market.starting_cash, "2025-09-30", market=market.key,
                                frequency=str(market.frequency))
    held: dict[str, Decimal] = defaultdict(Decimal)
    at_day_start: dict[str, Decimal] = {}
    sold_today: dict[str, Decimal] = defaultdict(Decimal)
    day = None
    for trades, session in zip(plan, sessions, strict=False):
        if session[:10] != day:
            day, at_day_start, sold_today = session[:10], dict(held), defaultdict(Decimal)
        attempt = await ledger.open_attempt("p", session)
        async with store.read() as conn:
            opens = {s: b for s in symbols(market)
                     if (b := await get_bar(conn, feed, s, session)) is not None}
            prev_close = await _previous_closes(conn, market, feed, session)
        for action, sym, amount in trades:
            try:
                fill = await ledger.trade(attempt, action, sym, amount)
            except (TradeRefused, InvalidInput):
                continue
            qty = fill.quantity
            assert _lot_ok(market, action, sym, qty, held[sym]), (action, sym, qty, held[sym])
            assert fill.price == opens[sym].open and fill.total == mul(qty, fill.price)
            if market.limits is not None and sym in prev_close:
                down, up = market.limits.band(sym, prev_close[sym])
                assert (fill.price < up) if action == "buy" else (fill.price > down)
            if action == "buy":
                held[sym] += qty
            else:
                held[sym] -= qty
                sold_today[sym] += qty
                if market.t_plus_one:  # only what was held when the trading day began
                    assert sold_today[sym] <= at_day_start.get(sym, Decimal(0))
            assert fill.position.cash >= 0 and all(n >= 0 for n in
                                                   fill.position.holdings.values())
            assert {s: n for s, n in held.items() if n} == dict(fill.position.holdings)
        result = await ledger.complete_attempt(attempt)
        async with store.read() as conn:
            value = result.position.cash
            for sym, n in result.position.holdings.items():
                bar = await get_bar(conn, feed, sym, session)
                assert bar is not None
                value += mul(n, bar.close)
        assert result.value == value  # exactly
        assert await violations(store) == []


async def _previous_closes(conn: object, market: Market, feed: Feed, session: str
                           ) -> dict[str, Decimal]:
    """The previous trading day's last close per symbol (the limits' reference)."""
    cal = market.schedule.calendar()
    prev_day = cal.previous(date.fromisoformat(session[:10]))
    if prev_day is None:
        return {}
    last = market.sessions_of_day(prev_day)[-1].id
    out = {}
    for sym in symbols(market):
        bar = await get_bar(conn, feed, sym, last)  # type: ignore[arg-type]
        if bar is not None:
            out[sym] = bar.close
    return out


@pytest.mark.parametrize("freq", markets.FREQUENCIES)
async def test_the_locked_a_shares_are_refused_with_the_rule(store: Store, freq: str) -> None:
    """On the planted day, a buy of the limit-up share and a sell of the limit-down one are
    refused, naming the limit; the day before, both fill."""
    market = markets.get("cn", freq)
    sessions = await _market_data(store, market)
    ledger = Ledger(store)
    await ledger.register_model("q", Decimal(10_000_000), "2025-09-30", market="cn",
                                frequency=freq)  # demo prices reach the thousands
    first = await ledger.open_attempt("q", sessions[0])
    await ledger.trade(first, "buy", DOWN, 200)
    await ledger.trade(first, "buy", UP, 100)
    await ledger.complete_attempt(first)
    day2 = next(s for s in sessions if s[:10] != sessions[0][:10])
    for s in sessions[1:sessions.index(day2)]:
        await ledger.complete_attempt(await ledger.open_attempt("q", s))
    locked = await ledger.open_attempt("q", day2)
    with pytest.raises(TradeRefused, match="limit-up"):
        await ledger.trade(locked, "buy", UP, 100)
    with pytest.raises(TradeRefused, match="limit-down"):
        await ledger.trade(locked, "sell", DOWN, 100)
    fill = await ledger.trade(locked, "sell", UP, 100)  # selling into limit-up fills
    assert fill.quantity == 100 and UP not in fill.position.holdings
