"""A market is a value: its universe, calendar and sessions, currency and starting cash,
quantity rule, sell restriction, price limits, benchmark and periods per year.

One module per market in this package (`us`, `cn`, `crypto`) builds it for a frequency;
`aitrader.markets.get(key, frequency)` is the only way the rest of the code obtains one.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from datetime import date
from decimal import Decimal

import attrs

from aitrader.errors import InvalidInput
from aitrader.markets.rules import Lots, PriceLimits
from aitrader.markets.sessions import Schedule, Session


class Frequency(enum.StrEnum):
    DAILY = "daily"
    HOURLY = "hourly"


class BenchmarkKind(enum.StrEnum):
    SERIES = "series"  # one price series bought at the first open (QQQ, the SSE 50 index)
    BASKET = "basket"  # weights of the starting cash, each bought at the first open (CD5)
    REPLICA = "replica"  # an index rebuilt from its constituents' weights on a weight date


@attrs.frozen
class Benchmark:
    symbol: str  # the name results show it under ("QQQ", "000016.SH", "CD5")
    name: str
    kind: BenchmarkKind
    # BASKET/REPLICA: constituent -> weight (normalised to sum to 1 where used)
    weights: Mapping[str, Decimal] = attrs.field(factory=dict)
    weight_date: date | None = None  # REPLICA: the closes the units are fixed at
    # the series whose own close-to-close return is shown beside the tradable benchmark
    index: str | None = None
    # bought in whole units (QQQ: a share, as the models trade it); an index or a basket is
    # bought in fractional units (MARKETS.md)
    whole_units: bool = False

    def constituents(self) -> tuple[str, ...]:
        return tuple(self.weights) if self.weights else (self.symbol,)


@attrs.frozen
class Market:
    key: str  # "us", "cn", "crypto"
    frequency: Frequency
    title: str  # "NASDAQ-100, daily"
    universe: tuple[str, ...]  # in the original's file order
    currency: str
    starting_cash: Decimal
    schedule: Schedule
    lots: Lots
    t_plus_one: bool
    limits: PriceLimits | None
    benchmark: Benchmark
    periods_per_year: int
    price_places: int  # decimals prices carry (US 4, CN 2, crypto 8)
    normalise: Callable[[object], str]  # a symbol as written anywhere -> the stored form
    names: Mapping[str, str] = attrs.field(factory=dict)  # symbol -> display name
    notes: tuple[str, ...] = ()  # what results must say (e.g. USD quotes used as USDT)
    symbols: frozenset[str] = attrs.field(
        init=False, default=attrs.Factory(lambda self: frozenset(self.universe),
                                          takes_self=True))

    @property
    def label(self) -> str:
        """`us/daily`: how configs, the API and the CLI name it."""
        return f"{self.key}/{self.frequency}"

    @property
    def hourly(self) -> bool:
        return self.frequency is Frequency.HOURLY

    def sessions(self, start: date, end: date) -> list[Session]:
        return self.schedule.between(start, end)

    def sessions_of_day(self, day: date) -> list[Session]:
        return self.schedule.of_day(day)

    def parse_sessions(self, text: str, *, field: str = "date") -> list[Session]:
        return self.schedule.parse(text, field=field)

    def session(self, session_id: str, *, field: str = "session") -> Session:
        """Exactly one session: its id (or, for daily runs, its date)."""
        found = self.schedule.parse(session_id, field=field)
        if not found:
            raise InvalidInput(f"{field} {session_id[:40]!r} is not a trading day of "
                               f"{self.title}", field=field)
        if len(found) > 1:
            raise InvalidInput(f"{field} {session_id[:40]!r} is a day of {len(found)} "
                               f"sessions; name one, e.g. {found[0].id}", field=field)
        return found[0]

    def next_session(self, after: str) -> Session | None:
        """The first session after the session `after`: later that day, or the first of the
        next trading day."""
        day = date.fromisoformat(after[:10])
        later = [s for s in self.sessions_of_day(day) if s.id > after]
        if later:
            return later[0]
        nxt = self.schedule.calendar().next(day)
        following = self.sessions_of_day(nxt) if nxt else []
        return following[0] if following else None

    def previous_session(self, before: str) -> Session | None:
        """The last session before the session `before`: earlier that day, or the last of
        the previous trading day."""
        day = date.fromisoformat(before[:10])
        earlier = [s for s in self.sessions_of_day(day) if s.id < before]
        if earlier:
            return earlier[-1]
        prev = self.schedule.calendar().previous(day)
        preceding = self.sessions_of_day(prev) if prev else []
        return preceding[-1] if preceding else None

    def in_universe(self, symbol: str) -> bool:
        return symbol in self.symbols
