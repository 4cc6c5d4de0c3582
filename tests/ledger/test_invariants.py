"""Property-based: random trade sequences over several days keep every invariant."""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aitrader import markets
from aitrader.errors import TradeRefused
from aitrader.ledger import Ledger
from aitrader.ledger.invariants import violations
from aitrader.market import demo
from aitrader.market.prices import US_DAILY, upsert_bars
from aitrader.money import dec
from aitrader.store import Store, scalar

SYMBOLS = ["AAPL", "MSFT", "NVDA", "AMZN", "TSLA"]
DAYS = ["2025-10-02", "2025-10-03", "2025-10-06", "2025-10-07"]

trade = st.tuples(st.sampled_from(["buy", "sell"]), st.sampled_from(SYMBOLS),
                  st.one_of(st.integers(-3, 40), st.sampled_from([0.5, "x", 10**9])))
day_plan = st.tuples(st.lists(trade, max_size=8), st.sampled_from(["complete", "void"]))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plans=st.lists(day_plan, min_size=1, max_size=len(DAYS)))
async def test_random_sequences_keep_the_invariants(plans: list) -> None:  # type: ignore[type-arg]
    """After every transaction: cash >= 0, whole holdings >= 0, shares and cash conserved,
    value recomputable from trades, nothing in a voided attempt, one completed per day."""
    with tempfile.TemporaryDirectory() as tmp:
        async with Store(Path(tmp) / "p.db") as store:
            bars = demo.generate(markets.get(), date(2025, 10, 1), date(2025, 10, 7), seed=3,
                                 symbols=[*SYMBOLS, "QQQ"])
            await upsert_bars(store, US_DAILY, bars)
            ledger = Ledger(store)
            await ledger.register_model("p", dec("5000"), "2025-10-01")
            done_days = 0
            for (trades, end), day in zip(plans, DAYS, strict=False):
                attempt = await ledger.open_attempt("p", day)
                held_before = dict((await ledger.position(attempt)).holdings)
                applied = 0
                for action, sym, amount in trades:
                    try:
                        await ledger.trade(attempt, action, sym, amount)
                        applied += 1
                    except TradeRefused:
                        pass
                    assert await violations(store) == []
                if end == "void":
                    assert await ledger.void_attempt(attempt) == applied
                    retry = await ledger.open_attempt("p", day)
                    assert dict((await ledger.position(retry)).holdings) == held_before
                    attempt = retry
                await ledger.complete_attempt(attempt)
                done_days += 1
                assert await violations(store) == []
            async with store.read() as conn:
                count = await scalar(conn, "SELECT COUNT(*) FROM eod WHERE model = 'p'")
                assert count == done_days
