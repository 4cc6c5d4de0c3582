"""The NYSE calendar: holidays are not trading days; the latest closed session."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from aitrader.errors import InvalidInput
from aitrader.market.calendar import nyse, parse_date


@pytest.mark.parametrize("holiday", ["2025-07-04", "2025-11-27", "2025-12-25", "2025-01-09",
                                     "2025-04-18", "2025-06-19"])
def test_holidays_are_not_sessions(holiday: str) -> None:
    """Independence Day, Thanksgiving, Christmas, the Carter day of mourning, Good Friday,
    Juneteenth: no session."""
    assert not nyse().is_session(date.fromisoformat(holiday))


def test_weekdays_around_a_holiday() -> None:
    """The sessions of the week of July 4th 2025, and the neighbours of a holiday."""
    cal = nyse()
    assert [d.isoformat() for d in cal.between(date(2025, 6, 30), date(2025, 7, 6))] == [
        "2025-06-30", "2025-07-01", "2025-07-02", "2025-07-03"]
    assert cal.previous(date(2025, 7, 7)) == date(2025, 7, 3)
    assert cal.next(date(2025, 7, 3)) == date(2025, 7, 7)


def test_last_closed_respects_the_closing_bell() -> None:
    """Before 16:00 New York the latest closed session is the previous one; an early close
    (the day after Thanksgiving, 13:00) counts from 13:00."""
    cal = nyse()
    assert cal.last_closed(datetime(2025, 10, 30, 19, 59, tzinfo=UTC)) == date(2025, 10, 29)
    assert cal.last_closed(datetime(2025, 10, 30, 20, 0, tzinfo=UTC)) == date(2025, 10, 30)
    assert cal.last_closed(datetime(2025, 11, 28, 18, 1, tzinfo=UTC)) == date(2025, 11, 28)
    assert cal.last_closed(datetime(2025, 11, 29, 12, 0, tzinfo=UTC)) == date(2025, 11, 28)


@pytest.mark.parametrize("bad", ["2025-13-01", "2025-02-30", "20251001", "yesterday", "",
                                 "2025-10-01T00:00:00"])
def test_parse_date_names_the_field(bad: str) -> None:
    """A malformed date is refused with the field named."""
    with pytest.raises(InvalidInput) as info:
        parse_date(bad, field="start_date")
    assert info.value.details["field"] == "start_date"
    assert "YYYY-MM-DD" in info.value.message
