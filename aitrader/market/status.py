"""`aitrader prices status`: what the prices table holds, and where it has holes."""

from __future__ import annotations

from datetime import date

import attrs

from aitrader.market.calendar import Calendar
from aitrader.market.prices import US_DAILY, data_dates, spans
from aitrader.market.symbols import ALL_SYMBOLS
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


async def price_status(store: Store, cal: Calendar) -> PriceStatus:
    all_spans = await spans(store, US_DAILY)
    if not all_spans:
        return PriceStatus(None, None, (), tuple(ALL_SYMBOLS), False)
    first = min(s.first for s in all_spans)
    last = max(s.last for s in all_spans)
    out = []
    for sp in all_spans:
        sessions = cal.between(date.fromisoformat(sp.first), date.fromisoformat(sp.last))
        have = set(await data_dates(store, US_DAILY, sp.symbol)) \
            if len(sessions) != sp.bars else None
        missing = tuple(d.isoformat() for d in sessions if have is not None
                        and d.isoformat() not in have)
        out.append(SymbolStatus(sp.symbol, sp.first, sp.last, sp.bars, sp.sources, missing,
                                sp.last < last, sp.symbol in ALL_SYMBOLS))
    present = {s.symbol for s in out}
    return PriceStatus(first, last, tuple(out),
                       tuple(s for s in ALL_SYMBOLS if s not in present),
                       any("demo" in s.sources for s in out))
