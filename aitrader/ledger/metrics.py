"""Performance metrics of LEDGER.md, one function for a model and for its market's benchmark.

Annualised figures use the market's sessions per year (MARKETS.md: 252 US daily, 1512 US
hourly, 242 / 968 SSE 50, 365 / 8760 crypto), which every result reports beside them."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import attrs

TRADING_DAYS = 252  # US daily sessions per year, the default
SHORT_WINDOW = 20  # below this many sessions an annualised figure says little


@attrs.frozen
class Metrics:
    sessions: int
    start_value: float
    end_value: float
    cumulative_return: float
    annualised_return: float | None
    volatility: float | None
    sharpe: float | None
    sortino: float | None
    max_drawdown: float
    calmar: float | None
    win_rate: float | None
    short_window: bool  # annualised figures rest on fewer than SHORT_WINDOW sessions
    periods_per_year: int = TRADING_DAYS  # what the annualised figures scale by


def _mean(xs: Sequence[float]) -> float:
    return sum(xs) / len(xs)


def _std(xs: Sequence[float]) -> float:
    """Sample standard deviation (n - 1)."""
    m = _mean(xs)
    return math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1))


def compute(values: Sequence[float], *, risk_free_annual: float = 0.0,
            periods_per_year: int = TRADING_DAYS) -> Metrics:
    """Metrics of a series of end-of-session values; values[0] is the starting value."""
    if periods_per_year < 1:
        raise ValueError("periods_per_year must be positive")
    p = periods_per_year
    if len(values) < 1 or values[0] <= 0:
        raise ValueError("a value series needs a positive starting value")
    returns = [b / a - 1 for a, b in itertools.pairwise(values) if a > 0]
    n = len(returns)
    cr = values[-1] / values[0] - 1
    # in logs: (1 + cr) ** (p / n) overflows a float for a short hourly window (8,760
    # sessions a year); beyond e**700 the figure says nothing anyway
    growth = math.log1p(cr) * p / n if n and cr > -1 else None
    ann = math.expm1(growth) if growth is not None and growth < 700 else None
    rf_daily = (1 + risk_free_annual) ** (1 / p) - 1
    excess = [r - rf_daily for r in returns]
    vol = sharpe = sortino = None
    if n >= 2:
        sd = _std(returns)
        vol = sd * math.sqrt(p)
        sharpe = _mean(excess) / sd * math.sqrt(p) if sd > 0 else None
        downside = math.sqrt(sum(min(0.0, r) ** 2 for r in excess) / n)
        sortino = _mean(excess) / downside * math.sqrt(p) if downside > 0 else None
    peak, mdd = values[0], 0.0
    for v in values:
        peak = max(peak, v)
        mdd = min(mdd, v / peak - 1)
    calmar = ann / abs(mdd) if ann is not None and mdd < 0 else None
    win = sum(1 for r in returns if r > 0) / n if n else None
    return Metrics(
        sessions=n, start_value=values[0], end_value=values[-1], cumulative_return=cr,
        annualised_return=ann, volatility=vol, sharpe=sharpe, sortino=sortino,
        max_drawdown=mdd, calmar=calmar, win_rate=win, short_window=n < SHORT_WINDOW,
        periods_per_year=p,
    )
