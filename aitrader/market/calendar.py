"""Exchange calendars (XNYS, XSHG, 24/7) from exchange-calendars: trading days, their opens,
closes (early closes included) and lunch breaks, maintained upstream.

Loaded once per process and calendar into sorted tuples; every question after that is a
bisect. A trading day here is the calendar's session (a date); what the simulation calls a
session (one bar of the run's frequency) is built from these in `aitrader.markets.sessions`.
"""

from __future__ import annotations

import bisect
import functools
import warnings
from datetime import UTC, date, datetime

import attrs

from aitrader.errors import InvalidInput

CALENDAR_START = "2015-01-02"


def parse_date(value: str, *, field: str = "date") -> date:
    """A strict YYYY-MM-DD date, or InvalidInput naming the field."""
    text = str(value).strip()
    try:
        if len(text) != 10:
            raise ValueError
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{field} must be a date as YYYY-MM-DD, got {text[:40]!r}",
                           field=field) from None


@attrs.frozen
class Calendar:
    sessions: tuple[date, ...]
    closes: tuple[datetime, ...]  # UTC close time of each session (early closes included)
    opens: tuple[datetime, ...] = ()  # UTC open time of each session
    # UTC start and end of each session's lunch break (None: no break that day)
    breaks: tuple[tuple[datetime, datetime] | None, ...] = ()
    name: str = "XNYS"

    def _index(self, day: date) -> int:
        i = bisect.bisect_left(self.sessions, day)
        if i == len(self.sessions) or self.sessions[i] != day:
            raise InvalidInput(f"{day} is not a trading day of {self.name}", field="date")
        return i

    def hours(self, day: date) -> tuple[datetime, datetime, tuple[datetime, datetime] | None]:
        """A trading day's (open, close, lunch break or None), UTC."""
        i = self._index(day)
        return self.opens[i], self.closes[i], self.breaks[i] if self.breaks else None

    def is_session(self, day: date) -> bool:
        i = bisect.bisect_left(self.sessions, day)
        return i < len(self.sessions) and self.sessions[i] == day

    def between(self, start: date, end: date) -> list[date]:
        """Sessions with start <= session <= end."""
        lo = bisect.bisect_left(self.sessions, start)
        hi = bisect.bisect_right(self.sessions, end)
        return list(self.sessions[lo:hi])

    def previous(self, day: date) -> date | None:
        """The last session strictly before `day`."""
        i = bisect.bisect_left(self.sessions, day)
        return self.sessions[i - 1] if i > 0 else None

    def next(self, day: date) -> date | None:
        """The first session strictly after `day`."""
        i = bisect.bisect_right(self.sessions, day)
        return self.sessions[i] if i < len(self.sessions) else None

    def close_of(self, day: date) -> datetime:
        """When `day`'s session closes (UTC); a day that is not a session: its midnight UTC."""
        i = bisect.bisect_left(self.sessions, day)
        if i < len(self.sessions) and self.sessions[i] == day:
            return self.closes[i]
        return datetime(day.year, day.month, day.day, tzinfo=UTC)

    def last_closed(self, now: datetime | None = None) -> date:
        """The most recent session whose closing bell has rung at `now` (UTC)."""
        now = now or datetime.now(UTC)
        i = bisect.bisect_right(self.closes, now)
        if i == 0:
            raise InvalidInput("no NYSE session has closed yet in the calendar's range")
        return self.sessions[i - 1]


def _utc(ts: object) -> datetime:
    return ts.to_pydatetime().astimezone(UTC)  # type: ignore[attr-defined, no-any-return]


@functools.cache
def exchange(name: str) -> Calendar:
    """An exchange-calendars calendar by its code ("XNYS", "XSHG", "24/7"); immutable, built
    once per process (about 0.1 s each)."""
    # exchange-calendars 4.x calls pandas APIs that pandas 3.1 deprecates; the warnings are
    # the library's to fix and say nothing about our use, so they are silenced here only.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        import exchange_calendars as xcals  # heavy (pandas): imported only when needed

        cal = xcals.get_calendar(name, start=CALENDAR_START)
        sessions = tuple(ts.date() for ts in cal.sessions)
        closes = tuple(_utc(ts) for ts in cal.closes)
        opens = tuple(_utc(ts) for ts in cal.opens)
        breaks = tuple(None if start != start else (_utc(start), _utc(end))  # NaT != NaT
                       for start, end in zip(cal.break_starts, cal.break_ends, strict=True))
    return Calendar(sessions=sessions, closes=closes, opens=opens, breaks=breaks, name=name)


def nyse() -> Calendar:
    """The NYSE calendar (XNYS)."""
    return exchange("XNYS")

