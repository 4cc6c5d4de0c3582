"""Sessions: one bar of a run's frequency, the unit the simulation steps through.

A session starts at its bar's start instant (the model decides then, its trades fill at the
bar's open) and ends at the bar's end (its snapshot is valued at the bar's close). Its id is
the trading day (`2025-10-02`) for daily runs, and the bar's start as ISO 8601 local time
with the market's UTC offset (`2025-10-31T10:00:00-04:00`) for hourly runs. Within one market
and frequency, ids sort like the instants they name (the bars lie in trading hours, away from
the daylight-saving shifts), so SQL can order and compare them as text.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import attrs

from aitrader.errors import InvalidInput
from aitrader.market.calendar import Calendar

HOUR = timedelta(hours=1)


@attrs.frozen(order=True)
class Session:
    start: datetime  # UTC instant; sessions order by it
    end: datetime = attrs.field(order=False)  # UTC instant
    id: str = attrs.field(order=False)
    day: date = attrs.field(order=False)  # the trading day it belongs to (local date)

    def __str__(self) -> str:
        return self.id


# (open, close, lunch break or None) of a trading day, UTC -> the starts of its hourly bars
BarStarts = Callable[[datetime, datetime, "tuple[datetime, datetime] | None"], list[datetime]]


def on_the_hour(opens: datetime, closes: datetime,
                lunch: tuple[datetime, datetime] | None) -> list[datetime]:
    """Bars starting on whole clock hours, each inside trading hours for its whole hour (US:
    10:00 to 15:00; regular-hours 60-minute data has no 09:30 bar)."""
    first = opens.replace(minute=0, second=0, microsecond=0)
    if first < opens:
        first += HOUR
    return _whole_bars(first, closes, lunch)


def from_the_open(opens: datetime, closes: datetime,
                  lunch: tuple[datetime, datetime] | None) -> list[datetime]:
    """Bars of one hour from the open and again from the end of the lunch break (Shanghai:
    09:30, 10:30, 13:00, 14:00)."""
    if lunch is None:
        return _whole_bars(opens, closes, None)
    return _whole_bars(opens, lunch[0], None) + _whole_bars(lunch[1], closes, None)


def _whole_bars(first: datetime, closes: datetime,
                lunch: tuple[datetime, datetime] | None) -> list[datetime]:
    out = []
    start = first
    while start + HOUR <= closes:
        if lunch is None or start + HOUR <= lunch[0] or start >= lunch[1]:
            out.append(start)
        start += HOUR
    return out


@attrs.frozen
class Schedule:
    """How a market's calendar becomes sessions for one frequency."""

    calendar: Callable[[], Calendar]
    zone: ZoneInfo
    hourly: bool
    bar_starts: BarStarts = on_the_hour

    def of_day(self, day: date) -> list[Session]:
        """The sessions of one trading day (none if it is not one)."""
        cal = self.calendar()
        if not cal.is_session(day):
            return []
        opens, closes, lunch = cal.hours(day)
        if not self.hourly:
            return [Session(opens, closes, day.isoformat(), day)]
        return [Session(s, s + HOUR, s.astimezone(self.zone).isoformat(), day)
                for s in self.bar_starts(opens, closes, lunch)]

    def between(self, start: date, end: date) -> list[Session]:
        """Every session of the trading days start..end (local dates, both included)."""
        return [s for day in self.calendar().between(start, end) for s in self.of_day(day)]

    def parse(self, text: str, *, field: str = "session") -> list[Session]:
        """The sessions a client names: a session id (any UTC offset or `Z` for the same
        instant), or a bare date meaning every session of that local trading day."""
        raw = str(text).strip()
        if len(raw) == 10:
            try:
                day = date.fromisoformat(raw)
            except ValueError:
                raise _bad(raw, field) from None
            return self.of_day(day)
        try:
            instant = datetime.fromisoformat(raw)
        except ValueError:
            raise _bad(raw, field) from None
        if instant.tzinfo is None:
            raise InvalidInput(f"{field} {raw[:40]!r} has no UTC offset: write it as "
                               f"{raw[:19]}{_offset_example(self.zone, instant)}", field=field)
        found = self.at(instant)
        if found is None:
            raise InvalidInput(f"{field} {raw[:40]!r} is not the start of a session",
                               field=field)
        return [found]

    def at(self, instant: datetime) -> Session | None:
        """The session that starts at this instant, or None."""
        utc = instant.astimezone(UTC)
        local_day = utc.astimezone(self.zone).date()
        for day in (local_day, local_day - timedelta(days=1)):
            for s in self.of_day(day):
                if s.start == utc:
                    return s
        return None

    def previous_day(self, day: date) -> date | None:
        return self.calendar().previous(day)


def _offset_example(zone: ZoneInfo, naive: datetime) -> str:
    offset = naive.replace(tzinfo=zone).strftime("%z")
    return f"{offset[:3]}:{offset[3:]}" if offset else "+00:00"


def _bad(raw: str, field: str) -> InvalidInput:
    return InvalidInput(f"{field} must be a date (YYYY-MM-DD) or a session id "
                        f"(YYYY-MM-DDTHH:MM:SS+HH:MM), got {raw[:40]!r}", field=field)
