"""`aitrader prices status`: what the prices table holds, and where it has holes."""

from __future__ import annotations

from datetime import date

import attrs

from aitrader import markets
from aitrader.market.prices import Feed, data_dates, spans
from aitrader.markets import Market
from aitrader.store import Store


@attrs.frozen
class SymbolStatus:
    symbol: str
    first: str
    last: str
    bars: int
    sources: str
    missing: tuple[str, ...]  # sessions inside [first, last] with no bar
    ends_early: bool  # stops before the latest date with data
    in_universe: bool


@attrs.frozen
class PriceStatus:
    first: str | None
    last: str | None
    symbols: tuple[SymbolStatus, ...]
    absent: tuple[str, ...]  # universe symbols with no bar at all
    synthetic: bool

    @property
    def with_gaps(self) -> list[SymbolStatus]:
        return [s for s in self.symbols if s.missing or s.ends_early]


async def price_status(store: Store, market: Market | None = None) -> PriceStatus:
    """One market and frequency's feed (default NASDAQ-100 daily): per symbol its span and
    the sessions missing inside it; the universe's and benchmark's symbols with no bar."""
    market = market or markets.get()
    feed = Feed(market.key, str(market.frequency))
    expected = (*market.universe, *(s for s in market.benchmark.constituents()
                                    if s not in market.symbols))
    all_spans = await spans(store, feed)
    if not all_spans:
        return PriceStatus(None, None, (), expected, False)
    first = min(s.first for s in all_spans)
    last = max(s.last for s in all_spans)
    out = []
    for sp in all_spans:
        sessions = [s.id for s in market.sessions(date.fromisoformat(sp.first[:10]),
                                                   date.fromisoformat(sp.last[:10]))
                    if sp.first <= s.id <= sp.last]
        have = set(await data_dates(store, feed, sp.symbol)) \
            if len(sessions) != sp.bars else None
        missing = tuple(d for d in sessions if have is not None and d not in have)
        out.append(SymbolStatus(sp.symbol, sp.first, sp.last, sp.bars, sp.sources, missing,
                                sp.last < last, sp.symbol in expected))
    present = {s.symbol for s in out}
    return PriceStatus(first, last, tuple(out),
                       tuple(s for s in expected if s not in present),
                       any("demo" in s.sources for s in out))
