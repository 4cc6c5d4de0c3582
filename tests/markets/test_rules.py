"""The trading rules of MARKETS.md as properties (hypothesis) plus the worked examples."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aitrader.errors import TradeRefused
from aitrader.markets.rules import (
    ChinaLots,
    Lots,
    PriceLimits,
    check_t_plus_one,
    parse_quantity,
    sellable,
)

LOTS = ChinaLots(0, "shares")
MAIN, STAR = "600519.SH", "688981.SH"
shares = st.integers(min_value=1, max_value=100_000).map(Decimal)


def accepted(check: object, *args: object) -> bool:
    try:
        check(*args)  # type: ignore[operator]
    except TradeRefused:
        return False
    return True


def suggested(message: str) -> list[Decimal]:
    """The amounts a refusal proposes ("... the nearest valid amounts are 100 or 200")."""
    found = re.search(r"valid amounts? (?:is|are) ([\d, or.]+)$", message)
    assert found, message
    return [Decimal(x.replace(",", "")) for x in found.group(1).split(" or ")]


@given(shares)
def test_main_board_buys_are_whole_lots_and_refusals_suggest_valid_ones(q: Decimal) -> None:
    ok = accepted(LOTS.check_buy, MAIN, q)
    assert ok == (q % 100 == 0)
    if not ok:
        with pytest.raises(TradeRefused) as err:
            LOTS.check_buy(MAIN, q)
        near = suggested(err.value.message)
        assert near and all(n % 100 == 0 and abs(n - q) < 100 for n in near)


@given(shares, shares)
def test_main_board_sells_are_lots_or_the_whole_odd_holding(q: Decimal, held: Decimal) -> None:
    if q > held:
        return  # more than held: the ledger's refusal, not the lot rule's
    ok = accepted(LOTS.check_sell, MAIN, q, held)
    assert ok == (q % 100 == 0 or q == held)
    if not ok:
        with pytest.raises(TradeRefused) as err:
            LOTS.check_sell(MAIN, q, held)
        for n in suggested(err.value.message):
            assert n <= held and accepted(LOTS.check_sell, MAIN, n, held)


@given(shares, shares)
def test_star_is_at_least_200_then_any_and_small_holdings_close_whole(q: Decimal,
                                                                      held: Decimal) -> None:
    assert accepted(LOTS.check_buy, STAR, q) == (q >= 200)
    if q <= held:
        ok = accepted(LOTS.check_sell, STAR, q, held)
        assert ok == (q == held or (held >= 200 and q >= 200))
        if not ok:
            with pytest.raises(TradeRefused) as err:
                LOTS.check_sell(STAR, q, held)
            for n in suggested(err.value.message):
                assert accepted(LOTS.check_sell, STAR, n, held)


@given(st.decimals(min_value=Decimal("0.00000001"), max_value=Decimal(10_000), places=8))
def test_crypto_quantities_up_to_8_places_are_kept_exactly(q: Decimal) -> None:
    got = parse_quantity(str(q), 8, "units")
    assert got == q  # never rounded


@given(st.decimals(min_value=Decimal("0.000000001"), max_value=Decimal(10), places=12))
def test_more_than_8_places_is_refused_with_the_two_nearest(q: Decimal) -> None:
    if q == q.quantize(Decimal("1e-8")):
        return
    with pytest.raises(TradeRefused) as err:
        parse_quantity(str(q), 8, "units")
    near = suggested(err.value.message)
    assert all(abs(n - q) < Decimal("1e-8") for n in near)


def test_crypto_takes_json_floats_by_their_shortest_repr() -> None:
    assert parse_quantity(0.1, 8, "units") == Decimal("0.1")
    assert parse_quantity(0.02382, 8, "units") == Decimal("0.02382")
    assert Lots(8, "units").parse("0.1352") + Decimal("0.02382") == Decimal("0.15902")


@pytest.mark.parametrize(("raw", "says"), [
    (True, "got bool"), ("1e400", "at most 1,000,000,000 shares, got '1e400'"),
    ("nan", "got 'nan'"), (-3, "positive"),
    (0, "positive"), ("12.5", "nearest valid amounts are 12 or 13"), (None, "got NoneType"),
    (10**12, "at most 1,000,000,000")])
def test_stock_amounts(raw: object, says: str) -> None:
    with pytest.raises(TradeRefused, match=re.escape(says)):
        parse_quantity(raw, 0, "shares")
    assert parse_quantity("100", 0, "shares") == 100 and parse_quantity(7.0, 0, "shares") == 7


@given(shares, st.integers(min_value=0, max_value=100_000).map(Decimal), shares)
def test_t_plus_one_never_sells_what_was_bought_today(held: Decimal, bought: Decimal,
                                                      q: Decimal) -> None:
    bought = min(bought, held)
    ok = accepted(check_t_plus_one, MAIN, q, held, bought)
    assert ok == (q <= held - bought) and sellable(held, bought) == held - bought


def test_t_plus_one_refusal_states_total_bought_today_and_sellable() -> None:
    with pytest.raises(TradeRefused, match="held 300, bought today 200, sellable now 100"):
        check_t_plus_one(MAIN, Decimal(200), Decimal(300), Decimal(200))


@given(st.integers(min_value=100, max_value=500_000).map(lambda c: Decimal(c) / 100),
       st.integers(min_value=-3000, max_value=3000).map(lambda b: Decimal(b) / 10_000))
def test_price_limits_refuse_only_at_or_beyond_the_locked_limit(prev: Decimal,
                                                                move: Decimal) -> None:
    limits = PriceLimits()
    for symbol, pct in ((MAIN, Decimal("0.1")), (STAR, Decimal("0.2"))):
        down, up = limits.band(symbol, prev)
        assert abs(up - prev * (1 + pct)) <= Decimal("0.005")
        assert abs(down - prev * (1 - pct)) <= Decimal("0.005")
        fill = (prev * (1 + move)).quantize(Decimal("0.01"))
        assert accepted(limits.check, "buy", symbol, fill, prev) == (fill < up)
        assert accepted(limits.check, "sell", symbol, fill, prev) == (fill > down)


def test_price_limit_rounding_is_half_up_to_the_fen() -> None:
    # 10.05 x 1.1 = 11.055 -> 11.06 (half-up, not banker's 11.06/11.05)
    assert PriceLimits().band(MAIN, Decimal("10.05")) == (Decimal("9.05"), Decimal("11.06"))
    with pytest.raises(TradeRefused, match=r"limit-up price: the fill price 11.06 is at or "
                                           r"above 11.06 \(\+10% of the previous close"):
        PriceLimits().check("buy", MAIN, Decimal("11.06"), Decimal("10.05"))
