"""US stocks: the NASDAQ-100 on NYSE's calendar (XNYS), daily or hourly.

Daily: one session per trading day, id `2025-10-02`. Hourly: the regular-hours 60-minute
bars 10:00 to 15:00 New York time (six a day, three on early-close days), ids like
`2025-10-31T10:00:00-04:00` (the offset follows daylight saving). Whole shares, USD 10,000,
no sell restriction, no price limits; the benchmark is QQQ on bars like the run's.
"""

from __future__ import annotations

from decimal import Decimal
from zoneinfo import ZoneInfo

from aitrader.market.calendar import nyse
from aitrader.market.symbols import NASDAQ_100, normalise
from aitrader.markets.market import Benchmark, BenchmarkKind, Frequency, Market
from aitrader.markets.rules import Lots
from aitrader.markets.sessions import Schedule, on_the_hour

ZONE = ZoneInfo("America/New_York")


def build(frequency: Frequency) -> Market:
    hourly = frequency is Frequency.HOURLY
    return Market(
        key="us", frequency=frequency,
        title=f"NASDAQ-100, {frequency}",
        universe=NASDAQ_100, currency="USD", starting_cash=Decimal("10000"),
        schedule=Schedule(nyse, ZONE, hourly, on_the_hour),
        lots=Lots(0, "shares"), t_plus_one=False, limits=None,
        benchmark=Benchmark("QQQ", "Invesco QQQ (NASDAQ-100 ETF)", BenchmarkKind.SERIES,
                            index="QQQ", whole_units=True),
        periods_per_year=252 * 6 if hourly else 252,
        price_places=4, normalise=normalise)
