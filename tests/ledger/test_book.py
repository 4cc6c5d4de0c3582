"""The trading rules of LEDGER.md, on a real SQLite file with the demo market."""

from __future__ import annotations

from decimal import Decimal

import pytest

from aitrader.errors import AttemptClosed, Conflict, InvalidInput, NotFound, TradeRefused
from aitrader.ledger import Ledger, Position
from aitrader.ledger.book import parse_amount
from aitrader.ledger.invariants import violations
from aitrader.market.prices import US_DAILY, get_bar
from aitrader.money import dec
from aitrader.store import Store

CASH = dec("10000")


async def bar(store: Store, symbol: str, day: str):  # type: ignore[no-untyped-def]
    async with store.read() as conn:
        found = await get_bar(conn, US_DAILY, symbol, day)
    assert found is not None
    return found


@pytest.fixture
async def ledger(demo_store: Store) -> Ledger:
    led = Ledger(demo_store)
    await led.register_model("alpha", CASH, "2025-10-01")
    return led


async def test_buy_fills_at_the_open_with_exact_cash(ledger: Ledger, demo_store: Store) -> None:
    """A buy costs shares x open exactly; cash is an exact integer, no float drift."""
    a = await ledger.open_attempt("alpha", "2025-10-02")
    b = await bar(demo_store, "AAPL", "2025-10-02")
    fill = await ledger.trade(a, "buy", "aapl", 3)
    assert (fill.symbol, fill.quantity, fill.price, fill.total) == (
        "AAPL", Decimal(3), b.open, 3 * b.open)
    assert fill.position.cash == CASH - 3 * b.open
    assert dict(fill.position.holdings) == {"AAPL": 3}
    for _ in range(7):  # sell, sell, sell, buy, sell, buy, sell: all at the same open
        fill = await ledger.trade(a, "sell", "AAPL", 1) if fill.position.holdings.get("AAPL") \
            else await ledger.trade(a, "buy", "AAPL", 1)
    # back to no shares: the cash is the starting cash to the last 1/10,000 dollar
    # (AI-Trader's floats drifted to 216.00000000000006 on such round trips)
    assert await ledger.position(a) == Position(CASH, {})


async def test_day_end_values_at_the_close_and_pnl_is_close_minus_open(
        ledger: Ledger, demo_store: Store) -> None:
    """Buying at the open and valuing at the close moves value by (close - open) x shares."""
    a = await ledger.open_attempt("alpha", "2025-10-02")
    b = await bar(demo_store, "NVDA", "2025-10-02")
    await ledger.trade(a, "buy", "NVDA", 10)
    day = await ledger.complete_attempt(a)
    assert day.value == CASH + 10 * (b.close - b.open)
    assert day.profit == day.value - CASH
    assert day.return_pct == pytest.approx(float(day.profit / CASH * 100))
    assert day.trades == 1 and not day.stale_closes


async def test_no_trade_day_equals_the_day_before(ledger: Ledger, demo_store: Store) -> None:
    """A day without trades keeps the holdings and cash; only the prices move its value."""
    a = await ledger.open_attempt("alpha", "2025-10-02")
    await ledger.trade(a, "buy", "MSFT", 4)
    d1 = await ledger.complete_attempt(a)
    a2 = await ledger.open_attempt("alpha", "2025-10-03")
    d2 = await ledger.complete_attempt(a2)
    assert d2.position == d1.position and d2.trades == 0
    b = await bar(demo_store, "MSFT", "2025-10-03")
    assert d2.value == d1.position.cash + 4 * b.close
    assert d2.profit == d2.value - d1.value


async def test_positions_carry_over_a_gap_and_the_next_day_starts_from_the_snapshot(
        ledger: Ledger) -> None:
    """The next attempt's baseline is the latest completed day before it."""
    a = await ledger.open_attempt("alpha", "2025-10-02")
    await ledger.trade(a, "buy", "AMD", 2)
    await ledger.complete_attempt(a)
    a2 = await ledger.open_attempt("alpha", "2025-10-06")
    assert (await ledger.attempt(a2)).prev_date == "2025-10-02"
    assert dict((await ledger.position(a2)).holdings) == {"AMD": 2}


@pytest.mark.parametrize(("amount", "why"), [
    (0, "positive"), (-5, "positive"), (1.5, "whole number"), ("ten", "whole number"),
    (10**12, "at most"), (True, "whole number"), (None, "whole number"),
    (float("nan"), "whole number"),
])
async def test_bad_amounts_are_refused_and_change_nothing(ledger: Ledger, amount: object,
                                                          why: str) -> None:
    """0, -5, 1.5, "ten", 10**12 ...: refused with the reason; the ledger is unchanged."""
    a = await ledger.open_attempt("alpha", "2025-10-02")
    before = await ledger.position(a)
    with pytest.raises(TradeRefused, match=why):
        await ledger.trade(a, "buy", "AAPL", amount)
    assert await ledger.position(a) == before


def test_whole_amounts_in_other_spellings_are_accepted() -> None:
    """"7", 7.0 and " 7 " are seven whole shares."""
    assert parse_amount("7") == parse_amount(7.0) == parse_amount(" 7 ") == 7


async def test_refusals_state_the_numbers(ledger: Ledger, demo_store: Store) -> None:
    """Insufficient cash states needed and available; insufficient shares states held and
    wanted; unknown symbols and symbols without a bar are refused."""
    a = await ledger.open_attempt("alpha", "2025-10-02")
    b = await bar(demo_store, "AVGO", "2025-10-02")
    too_many = CASH // b.open + 1
    with pytest.raises(TradeRefused, match=r"insufficient cash: .* needs [\d,.]+, cash "
                                           r"available is 10,000.00"):
        await ledger.trade(a, "buy", "AVGO", too_many)
    await ledger.trade(a, "buy", "AVGO", 1)
    with pytest.raises(TradeRefused, match="insufficient shares: selling 2 AVGO, held 1"):
        await ledger.trade(a, "sell", "AVGO", 2)
    with pytest.raises(TradeRefused, match="unknown symbol 'XYZ'"):
        await ledger.trade(a, "buy", "XYZ", 1)
    with pytest.raises(TradeRefused, match="unknown symbol 'QQQ'"):
        await ledger.trade(a, "buy", "QQQ", 1)  # the benchmark is not tradable
    async with demo_store.write() as conn:
        await conn.execute("DELETE FROM bars WHERE symbol = 'TSLA' AND session = '2025-10-02'")
    with pytest.raises(TradeRefused, match="TSLA has no price on 2025-10-02"):
        await ledger.trade(a, "buy", "TSLA", 1)
    assert dict((await ledger.position(a)).holdings) == {"AVGO": 1}
    assert await violations(demo_store) == []


async def test_voiding_removes_the_attempts_trades_in_one_go(ledger: Ledger,
                                                             demo_store: Store) -> None:
    """A voided attempt keeps no trade; a retry starts from the same baseline."""
    a = await ledger.open_attempt("alpha", "2025-10-02")
    await ledger.trade(a, "buy", "AAPL", 2)
    await ledger.trade(a, "buy", "MSFT", 1)
    assert await ledger.void_attempt(a, "model-day failed") == 2
    with pytest.raises(AttemptClosed):
        await ledger.trade(a, "buy", "AAPL", 1)
    with pytest.raises(AttemptClosed):
        await ledger.complete_attempt(a)
    retry = await ledger.open_attempt("alpha", "2025-10-02")
    assert (await ledger.position(retry)).cash == CASH
    await ledger.trade(retry, "buy", "AAPL", 1)
    await ledger.complete_attempt(retry)
    async with demo_store.read() as conn:
        cur = await conn.execute("SELECT attempt_id, symbol FROM trades")
        assert [tuple(r) for r in await cur.fetchall()] == [(retry, "AAPL")]
    assert await violations(demo_store) == []


async def test_recovery_voids_running_attempts(ledger: Ledger, demo_store: Store) -> None:
    """After a crash, every running attempt is voided and its day can run again."""
    a = await ledger.open_attempt("alpha", "2025-10-02")
    await ledger.trade(a, "buy", "AAPL", 2)
    assert await ledger.void_running() == [a]
    assert (await ledger.attempt(a)).status == "voided"
    assert await ledger.void_running() == []
    await ledger.open_attempt("alpha", "2025-10-02")


async def test_attempt_rules(ledger: Ledger) -> None:
    """One running attempt per model; no day before the start; completed days stay; no
    rewriting history before a completed day; unknown models are not found."""
    a = await ledger.open_attempt("alpha", "2025-10-02")
    with pytest.raises(Conflict, match="running"):
        await ledger.open_attempt("alpha", "2025-10-03")
    await ledger.complete_attempt(a)
    with pytest.raises(Conflict, match="completed days are kept"):
        await ledger.void_attempt(a)
    with pytest.raises(Conflict, match="already has a completed day"):
        await ledger.open_attempt("alpha", "2025-10-02")
    with pytest.raises(InvalidInput, match="not after"):
        await ledger.open_attempt("alpha", "2025-10-01")
    with pytest.raises(InvalidInput, match="no market data"):
        await ledger.open_attempt("alpha", "2025-10-04")  # a Saturday
    with pytest.raises(NotFound):
        await ledger.open_attempt("nobody", "2025-10-03")


async def test_register_is_idempotent_but_not_silently_different(ledger: Ledger) -> None:
    """Registering the same model twice is a no-op; with other terms it is a conflict."""
    assert await ledger.register_model("alpha", CASH, "2025-10-01") is False
    with pytest.raises(Conflict):
        await ledger.register_model("alpha", CASH + 1, "2025-10-01")


async def test_stale_close_is_used_and_reported(ledger: Ledger, demo_store: Store) -> None:
    """A held symbol without a close on the day is valued at its last close, and flagged."""
    a = await ledger.open_attempt("alpha", "2025-10-02")
    await ledger.trade(a, "buy", "PEP", 1)
    await ledger.complete_attempt(a)
    async with demo_store.write() as conn:
        await conn.execute("DELETE FROM bars WHERE symbol = 'PEP' AND session = '2025-10-03'")
    a2 = await ledger.open_attempt("alpha", "2025-10-03")
    day = await ledger.complete_attempt(a2)
    assert dict(day.stale_closes) == {"PEP": "2025-10-02"}
    assert await violations(demo_store) == []


async def test_a_trade_costs_the_same_after_two_hundred(ledger: Ledger,
                                                        demo_store: Store) -> None:
    """The 200th trade of a model-day does the same work as the first: SQLite executes about
    as many virtual-machine steps for it (replaying the day's trades would read all 199
    before it). The running position stays what the trades add up to."""
    await ledger.register_model("busy", dec("10000000"), "2025-10-01")
    a = await ledger.open_attempt("busy", "2025-10-02")
    steps = 0

    def count() -> int:
        nonlocal steps
        steps += 1
        return 0  # go on

    writer = demo_store._writer  # the one connection every write of this process uses
    assert writer is not None
    await writer.set_progress_handler(count, 1)
    cost = []
    symbols = ["AAPL", "MSFT", "NVDA", "AMZN", "GOOGL"]
    for i in range(200):
        steps = 0
        await ledger.trade(a, "buy", symbols[i % 5], 1)
        cost.append(steps)
    await writer.set_progress_handler(None, 1)  # type: ignore[arg-type]  # None removes it
    first, last = sum(cost[:5]) / 5, sum(cost[-5:]) / 5
    assert last <= first * 1.2, (first, last)
    pos = await ledger.position(a)
    assert dict(pos.holdings) == dict.fromkeys(symbols, 40)
    opens = {s: (await bar(demo_store, s, "2025-10-02")).open for s in symbols}
    assert pos.cash == dec("10000000") - 40 * sum(opens.values())
    await ledger.complete_attempt(a)
    assert await violations(demo_store, "busy") == []
