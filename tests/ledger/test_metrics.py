"""Performance metrics against figures worked out by hand."""

from __future__ import annotations

import pytest

from aitrader.ledger.metrics import compute


def test_known_series() -> None:
    """100 -> 110 -> 99 -> 108.9, worked out by hand: daily returns +10%, -10%, +10%;
    mean 1/30; sample standard deviation sqrt(0.02667 / 2) = 1/sqrt(75)."""
    m = compute([100.0, 110.0, 99.0, 108.9])
    assert m.sessions == 3
    assert m.cumulative_return == pytest.approx(0.089)  # 108.9 / 100 - 1
    assert m.annualised_return == pytest.approx(1288.2641, rel=1e-6)  # 1.089 ** 84 - 1
    assert m.volatility == pytest.approx(1.8330303, rel=1e-6)  # sqrt(252 / 75)
    assert m.sharpe == pytest.approx(4.5825757, rel=1e-6)  # sqrt(18900) / 30
    # the downside deviation is sqrt(0.01 / 3)
    assert m.sortino == pytest.approx(9.1651514, rel=1e-6)  # sqrt(75600) / 30
    assert m.max_drawdown == pytest.approx(-0.10)  # 110 -> 99
    assert m.calmar == pytest.approx(12882.641, rel=1e-6)  # 1288.2641 / 0.10
    assert m.win_rate == pytest.approx(2 / 3)
    assert m.short_window


def test_risk_free_rate_lowers_sharpe() -> None:
    """Excess return is over the daily equivalent of the annual risk-free rate."""
    values = [100 * 1.001 ** i * (1 + 0.01 * (-1) ** i) for i in range(40)]
    assert compute(values, risk_free_annual=0.05).sharpe < compute(values).sharpe  # type: ignore[operator]


def test_flat_and_rising_series_have_no_ratio_to_divide_by_zero() -> None:
    """No volatility or no losses: ratios are None rather than infinite; drawdown 0."""
    flat = compute([100.0] * 5)
    assert flat.volatility == 0 and flat.sharpe is None and flat.sortino is None
    assert flat.max_drawdown == 0 and flat.calmar is None and flat.win_rate == 0
    up = compute([100.0, 101.0, 103.0])
    assert up.sortino is None and up.calmar is None and up.win_rate == 1


def test_single_point_and_bad_start() -> None:
    """One point: no returns; a non-positive start is refused."""
    one = compute([100.0])
    assert one.sessions == 0 and one.annualised_return is None and one.win_rate is None
    with pytest.raises(ValueError, match="positive starting value"):
        compute([0.0, 1.0])


def test_annualising_a_short_hourly_window_does_not_overflow() -> None:
    """One crypto hour up 10% annualises past any float: no figure, not an OverflowError."""
    m = compute([100.0, 110.0], periods_per_year=8760)
    assert m.annualised_return is None and m.cumulative_return == pytest.approx(0.1)
    assert compute([100.0, 101.0], periods_per_year=1512).annualised_return == pytest.approx(
        1.01 ** 1512 - 1)
