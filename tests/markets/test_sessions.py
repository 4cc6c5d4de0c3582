"""Sessions per market and frequency (MARKETS.md: "Sessions and their identifiers")."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from aitrader import markets
from aitrader.errors import InvalidInput


def ids(key: str, freq: str, start: str, end: str) -> list[str]:
    m = markets.get(key, freq)
    return [s.id for s in m.sessions(date.fromisoformat(start), date.fromisoformat(end))]


def test_us_daily_is_unchanged_one_session_per_nyse_day() -> None:
    assert ids("us", "daily", "2025-10-01", "2025-10-31") == [
        d.isoformat() for d in markets.get("us").schedule.calendar().between(
            date(2025, 10, 1), date(2025, 10, 31))]
    assert len(ids("us", "daily", "2025-10-01", "2025-10-31")) == 23


def test_us_hourly_six_bars_from_ten_and_three_on_early_closes() -> None:
    assert ids("us", "hourly", "2025-10-31", "2025-10-31") == [
        f"2025-10-31T{h}:00:00-04:00" for h in (10, 11, 12, 13, 14, 15)]
    # daylight saving ends 2025-11-02: the offset follows it
    assert ids("us", "hourly", "2025-11-03", "2025-11-03")[0] == "2025-11-03T10:00:00-05:00"
    # the day after Thanksgiving closes at 13:00: 10:00, 11:00, 12:00
    assert ids("us", "hourly", "2025-11-28", "2025-11-28") == [
        f"2025-11-28T{h}:00:00-05:00" for h in (10, 11, 12)]


def test_cn_hourly_four_bars_around_lunch_and_the_october_holiday() -> None:
    assert ids("cn", "hourly", "2025-10-01", "2025-10-09") == [
        f"2025-10-09T{t}:00+08:00" for t in ("09:30", "10:30", "13:00", "14:00")]
    assert ids("cn", "daily", "2025-09-29", "2025-10-10") == [
        "2025-09-29", "2025-09-30", "2025-10-09", "2025-10-10"]


def test_crypto_every_utc_day_and_hour_weekends_included() -> None:
    assert ids("crypto", "daily", "2025-11-07", "2025-11-10") == [
        "2025-11-07", "2025-11-08", "2025-11-09", "2025-11-10"]
    hours = ids("crypto", "hourly", "2025-11-08", "2025-11-08")
    assert len(hours) == 24 and hours[0] == "2025-11-08T00:00:00+00:00"
    assert hours[-1] == "2025-11-08T23:00:00+00:00"


def test_session_ids_sort_like_their_instants() -> None:
    for key in markets.KNOWN:
        for freq in markets.FREQUENCIES:
            got = markets.get(key, freq).sessions(date(2025, 10, 1), date(2025, 11, 30))
            assert [s.id for s in got] == sorted(s.id for s in got), (key, freq)
            assert got == sorted(got)
            assert all(a.end <= b.start for a, b in itertools.pairwise(got))


@pytest.mark.parametrize("text", ["2025-10-31T14:00:00Z", "2025-10-31T14:00:00+00:00",
                                  "2025-10-31T22:00:00+08:00", "2025-10-31T10:00:00-04:00"])
def test_any_offset_names_the_same_session_answered_in_the_markets_own(text: str) -> None:
    s = markets.get("us", "hourly").session(text)
    assert s.id == "2025-10-31T10:00:00-04:00"
    assert s.start == datetime(2025, 10, 31, 14, tzinfo=UTC)
    assert s.day == date(2025, 10, 31)


def test_a_bare_date_is_every_session_of_that_local_day() -> None:
    m = markets.get("cn", "hourly")
    assert [s.id for s in m.parse_sessions("2025-10-09")] == ids(
        "cn", "hourly", "2025-10-09", "2025-10-09")
    assert m.parse_sessions("2025-10-01") == []  # the National Day holiday


@pytest.mark.parametrize(("key", "freq", "text", "says"), [
    ("us", "hourly", "2025-10-31T09:30:00-04:00", "not the start of a session"),
    ("us", "hourly", "2025-10-31T10:00:00", "has no UTC offset: write it as "
                                            "2025-10-31T10:00:00-04:00"),
    ("us", "hourly", "2025-10-31", "a day of 6 sessions"),
    ("cn", "hourly", "2025-10-09T11:30:00+08:00", "not the start of a session"),
    ("us", "daily", "2025-10-04", "not a trading day"),
    ("crypto", "daily", "yesterday", "must be a date (YYYY-MM-DD) or a session id"),
    ("crypto", "hourly", "2025-11-08T10:30:00Z", "not the start of a session"),
])
def test_what_is_not_one_session_is_a_clear_error(key: str, freq: str, text: str,
                                                  says: str) -> None:
    with pytest.raises(InvalidInput, match=re.escape(says)):
        markets.get(key, freq).session(text)


def test_unknown_market_or_frequency() -> None:
    with pytest.raises(InvalidInput, match="unknown market 'forex': one of us, cn, crypto"):
        markets.get("forex")
    with pytest.raises(InvalidInput, match="unknown frequency 'weekly'"):
        markets.get("us", "weekly")


def test_each_market_states_its_rules() -> None:
    table = {(m.key, m.frequency.value): (m.currency, m.starting_cash, m.periods_per_year,
                                          m.benchmark.symbol, m.t_plus_one, m.lots.places)
             for m in (markets.get(k, f) for k in markets.KNOWN for f in markets.FREQUENCIES)}
    assert table == {
        ("us", "daily"): ("USD", Decimal(10000), 252, "QQQ", False, 0),
        ("us", "hourly"): ("USD", Decimal(10000), 1512, "QQQ", False, 0),
        ("cn", "daily"): ("CNY", Decimal(100000), 242, "000016.SH", True, 0),
        ("cn", "hourly"): ("CNY", Decimal(100000), 968, "SSE50-replica", True, 0),
        ("crypto", "daily"): ("USDT", Decimal(50000), 365, "CD5", False, 8),
        ("crypto", "hourly"): ("USDT", Decimal(50000), 8760, "CD5", False, 8)}
    cn = markets.get("cn")
    assert len(cn.universe) == 50 and cn.universe[0] == "600519.SH"
    assert cn.names["600519.SH"] == "贵州茅台"
    assert set(markets.get("cn", "hourly").benchmark.weights) == set(cn.universe)


@pytest.mark.parametrize(("key", "raw", "stored"), [
    ("cn", "600519", "600519.SH"), ("cn", "600519.SHH", "600519.SH"),
    ("cn", "sh600519", "600519.SH"), ("cn", " 688981.sh ", "688981.SH"),
    ("crypto", "btc", "BTC-USDT"), ("crypto", "BTCUSDT", "BTC-USDT"),
    ("crypto", "eth/usdt", "ETH-USDT"), ("crypto", "SOL-USD", "SOL-USDT"),
    ("us", " aapl ", "AAPL")])
def test_symbols_as_written_anywhere_are_stored_one_way(key: str, raw: str, stored: str
                                                        ) -> None:
    m = markets.get(key)
    assert m.normalise(raw) == stored and m.in_universe(stored)
