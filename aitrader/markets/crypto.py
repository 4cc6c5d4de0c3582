"""Crypto: ten coins against USDT, every UTC day or every UTC hour (24/7).

Daily session D decides at 00:00 UTC, fills at D's open and is valued at D's close; weekends
are ordinary sessions. Quantities are decimals with at most 8 places, never rounded; cash is
never rounded. USDT 50,000; the benchmark is the CD5 basket (its published weights, which sum
to 100.02%, normalised). Prices are USD quotes used as USDT, and results say so.
"""

from __future__ import annotations

from decimal import Decimal
from zoneinfo import ZoneInfo

from aitrader.market.calendar import Calendar, exchange
from aitrader.markets.market import Benchmark, BenchmarkKind, Frequency, Market
from aitrader.markets.rules import Lots
from aitrader.markets.sessions import Schedule, on_the_hour

ZONE = ZoneInfo("UTC")
COINS: tuple[str, ...] = ("BTC", "ETH", "XRP", "SOL", "ADA", "SUI", "LINK", "AVAX", "LTC", "DOT")
UNIVERSE: tuple[str, ...] = tuple(f"{c}-USDT" for c in COINS)
CD5: dict[str, Decimal] = {
    "BTC-USDT": Decimal("74.56"), "ETH-USDT": Decimal("15.97"), "XRP-USDT": Decimal("5.20"),
    "SOL-USDT": Decimal("3.53"), "ADA-USDT": Decimal("0.76")}


def normalise(symbol: object) -> str:
    """`btc`, `BTC-USDT`, `BTCUSDT`, `BTC/USDT`, `BTC-USD` -> `BTC-USDT`."""
    text = str(symbol).strip().upper().replace("/", "-").replace("_", "-")
    for quote in ("-USDT", "USDT", "-USD"):
        if text.endswith(quote) and len(text) > len(quote):
            text = text[: -len(quote)]
            break
    return f"{text.rstrip('-')}-USDT"


def calendar() -> Calendar:
    return exchange("24/7")


def build(frequency: Frequency) -> Market:
    hourly = frequency is Frequency.HOURLY
    return Market(
        key="crypto", frequency=frequency,
        title=f"Crypto (10 coins in USDT), {frequency}",
        universe=UNIVERSE, currency="USDT", starting_cash=Decimal("50000"),
        schedule=Schedule(calendar, ZONE, hourly, on_the_hour),
        lots=Lots(8, "units"), t_plus_one=False, limits=None,
        benchmark=Benchmark("CD5", "CD5 crypto basket (weights normalised)",
                            BenchmarkKind.BASKET, weights=CD5, index="CD5"),
        periods_per_year=8760 if hourly else 365,
        price_places=8, normalise=normalise,
        notes=("prices are USD quotes, used as USDT",))
