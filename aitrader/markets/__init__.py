"""Markets and frequencies (MARKETS.md): `get("cn", "hourly")` gives the Market value.

Each market is one module of this package with a `build(frequency) -> Market`; adding one is
that module (and its data) plus its key in KNOWN.
"""

from __future__ import annotations

import functools
import importlib

from aitrader.errors import InvalidInput
from aitrader.markets.market import Benchmark, BenchmarkKind, Frequency, Market
from aitrader.markets.sessions import Session

KNOWN: tuple[str, ...] = ("us", "cn", "crypto")
FREQUENCIES: tuple[str, ...] = tuple(f.value for f in Frequency)

__all__ = ["FREQUENCIES", "KNOWN", "Benchmark", "BenchmarkKind", "Frequency", "Market",
           "Session", "get"]


def get(key: str = "us", frequency: str = "daily") -> Market:
    """The market `key` at `frequency`, or InvalidInput naming what is known."""
    if key not in KNOWN:
        raise InvalidInput(f"unknown market {str(key)[:20]!r}: one of {', '.join(KNOWN)}",
                           field="market")
    if frequency not in FREQUENCIES:
        raise InvalidInput(f"unknown frequency {str(frequency)[:20]!r}: one of "
                           f"{', '.join(FREQUENCIES)}", field="frequency")
    return _build(key, Frequency(frequency))


@functools.cache
def _build(key: str, frequency: Frequency) -> Market:
    module = importlib.import_module(f"aitrader.markets.{key}")
    market: Market = module.build(frequency)
    return market
