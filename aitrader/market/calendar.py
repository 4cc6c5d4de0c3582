"""NYSE trading sessions, from exchange-calendars (holidays and early closes maintained upstream).

Loaded once per process into a sorted list of dates; every question after that is a bisect.
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


@functools.cache
def nyse() -> Calendar:
    """The NYSE calendar (immutable; built once per process, about 0.1 s)."""
    # exchange-calendars 4.x calls pandas APIs that pandas 3.1 deprecates; the warnings are
    # the library's to fix and say nothing about our use, so they are silenced here only.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        import exchange_calendars as xcals  # heavy (pandas): imported only when needed

        cal = xcals.get_calendar("XNYS", start=CALENDAR_START)
        sessions = tuple(ts.date() for ts in cal.sessions)
        closes = tuple(ts.to_pydatetime().astimezone(UTC) for ts in cal.closes)
    return Calendar(sessions=sessions, closes=closes)

