"""The Alpha Vantage fetcher for US hourly and crypto feeds, against replayed answers in the
shapes Alpha Vantage really returns (aioresponses; the network is never called).

Literal bodies are copied from the recorded files in ../shared/data (nasdaq100-hourly AAPL,
crypto-daily BTC, crypto-hourly BTC) with Alpha Vantage's own series keys put back: the
original renamed `Time Series (Digital Currency Daily)` and `Time Series Crypto (60min)`.
The tests marked "real data" read whole recorded files and skip without ../shared."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import attrs
import pytest
from aioresponses import aioresponses

from aitrader import markets
from aitrader.cli import main
from aitrader.errors import DataError
from aitrader.market.alphavantage import AlphaVantageFetcher, as_series_document
from aitrader.market.avformat import parse_series
from aitrader.market.prices import Bar, Feed, upsert_bars
from aitrader.store import Store
from tests.conftest import shared_data

KEY = "SECRET-AV-KEY-123"
US_HOURLY = Feed("us", "hourly")
CRYPTO_DAILY = Feed("crypto", "daily")
CRYPTO_HOURLY = Feed("crypto", "hourly")
FIELDS = ("1. open", "2. high", "3. low", "4. close", "5. volume")

# -- bodies in Alpha Vantage's shapes --------------------------------------------------------

AAPL_HOURS = {  # nasdaq100-hourly/daily_prices_AAPL.json (bar START, US/Eastern)
    "2025-10-30 15:00:00": ("271.0884", "271.5979", "270.7337", "271.1184", "11077995"),
    "2025-10-31 10:00:00": ("270.1743", "276.2135", "268.9005", "270.3291", "11441299"),
    "2025-10-31 11:00:00": ("270.3391", "271.2882", "269.9595", "271.1883", "7092540"),
    "2025-10-31 12:00:00": ("271.1783", "272.9066", "270.4690", "271.3581", "6598006"),
    "2025-10-31 13:00:00": ("271.3781", "271.5280", "269.8496", "271.1084", "4109808"),
    "2025-10-31 14:00:00": ("271.0984", "271.8577", "270.9590", "271.4081", "3718801"),
    "2025-10-31 15:00:00": ("271.4381", "272.3871", "269.6997", "269.9895", "12276921"),
    "2025-11-03 10:00:00": ("267.1122", "270.2992", "265.9933", "267.2920", "5955839"),
    "2025-11-03 11:00:00": ("267.2921", "267.7416", "266.2431", "267.5818", "4521534"),
    "2025-11-03 12:00:00": ("267.5918", "267.8915", "267.0223", "267.1652", "2888231"),
    "2025-11-03 13:00:00": ("267.1922", "268.3610", "266.9924", "267.8715", "2817755"),
    "2025-11-03 14:00:00": ("267.8815", "268.0513", "266.6527", "266.9374", "2996798"),
    "2025-11-03 15:00:00": ("266.9424", "268.8605", "266.6948", "268.8006", "6560927"),
    "2025-11-04 10:00:00": ("268.0313", "268.7906", "267.4519", "268.0149", "3435014"),
    "2025-11-04 11:00:00": ("268.0156", "271.2243", "268.0116", "270.2992", "6598237"),
    "2025-11-04 12:00:00": ("270.3092", "270.6688", "268.7207", "270.5189", "3637797"),
    "2025-11-04 13:00:00": ("270.4840", "270.5989", "269.7897", "270.2292", "3346377"),
    "2025-11-04 14:00:00": ("270.2192", "270.5389", "269.6098", "270.1393", "3363271"),
    "2025-11-04 15:00:00": ("270.1593", "270.2292", "269.0204", "269.9895", "8416734"),
}
BTC_DAYS = {  # crypto-daily/coin/daily_prices_BTC.json (UTC days; 11-16 was partial)
    "2025-11-13": ("101636.03000000", "104050.00000000", "97870.00000000", "99614.54000000",
                   "12710.66743459"),
    "2025-11-14": ("99610.49000000", "99836.10000000", "93951.32000000", "94503.96000000",
                   "19645.40043753"),
    "2025-11-15": ("94501.08000000", "96747.02000000", "94222.20000000", "95544.94000000",
                   "5157.02031554"),
    "2025-11-16": ("95544.94000000", "95650.00000000", "94971.00000000", "95374.01000000",
                   "283.62152345"),
}
BTC_HOURS = {  # crypto-hourly/coin/hourly_prices_BTC.json (UTC, bar start; volume a number)
    "2025-11-10 03:00:00": ("106055.64000", "106273.78000", "105847.99000", "106069.84000", 8),
    "2025-11-10 04:00:00": ("106067.50000", "106337.71000", "105880.08000", "106177.52000", 27),
    "2025-11-10 05:00:00": ("106179.17000", "106474.97000", "106027.79000", "106090.20000", 2),
    "2025-11-10 06:00:00": ("106072.58000", "106299.67000", "105971.67000", "106259.66000", 2),
    "2025-11-10 07:00:00": ("106236.39000", "106555.32000", "106151.93000", "106394.68000", 2),
}


def intraday(symbol: str, rows: dict[str, tuple[Any, ...]], month: str) -> dict[str, Any]:
    """TIME_SERIES_INTRADAY 60min with `month=`: the month's bars, newest first."""
    keys = sorted((k for k in rows if k.startswith(month)), reverse=True)
    return {
        "Meta Data": {
            "1. Information": "Intraday (60min) open, high, low, close prices and volume",
            "2. Symbol": symbol, "3. Last Refreshed": keys[0] if keys else "",
            "4. Interval": "60min", "5. Output Size": "Full size", "6. Time Zone": "US/Eastern"},
        "Time Series (60min)": {k: dict(zip(FIELDS, rows[k], strict=True)) for k in keys},
    }


def digital_daily(coin: str, rows: dict[str, tuple[Any, ...]], *, older: bool = False,
                  market: str = "USD") -> dict[str, Any]:
    """DIGITAL_CURRENCY_DAILY: `1. open`.. today, `1a. open (USD)`/`1b. open (USD)`.. before."""
    def bar(values: tuple[Any, ...]) -> dict[str, Any]:
        o, h, lo, c, v = values
        if not older:
            return dict(zip(FIELDS, values, strict=True))
        return {f"1a. open ({market})": o, "1b. open (USD)": o, f"2a. high ({market})": h,
                "2b. high (USD)": h, f"3a. low ({market})": lo, "3b. low (USD)": lo,
                f"4a. close ({market})": c, "4b. close (USD)": c, "5. volume": v,
                "6. market cap (USD)": v}
    keys = sorted(rows, reverse=True)
    return {
        "Meta Data": {
            "1. Information": "Daily Prices and Volumes for Digital Currency",
            "2. Digital Currency Code": coin, "3. Digital Currency Name": coin,
            "4. Market Code": market, "5. Market Name": "United States Dollar",
            "6. Last Refreshed": f"{keys[0]} 00:00:00", "7. Time Zone": "UTC"},
        "Time Series (Digital Currency Daily)": {k: bar(rows[k]) for k in keys},
    }


def crypto_intraday(coin: str, rows: dict[str, tuple[Any, ...]], market: str = "USDT"
                    ) -> dict[str, Any]:
    """CRYPTO_INTRADAY 60min; the meta data as in the recorded files."""
    keys = sorted(rows, reverse=True)
    return {
        "Meta Data": {
            "1. Information": "Crypto Intraday (60min) Time Series",
            "2. Digital Currency Code": coin, "3. Digital Currency Name": "Bitcoin",
            "4. Market Code": market, "5. Market Name": "Tether",
            "6. Last Refreshed": keys[0], "7. Interval": "60min",
            "8. Output Size": "Full size", "9. Time Zone": "UTC"},
        "Time Series Crypto (60min)": {k: dict(zip(FIELDS, rows[k], strict=True))
                                       for k in keys},
    }


DAILY_LIMIT = {"Information": (
    f"We have detected your API key as {KEY} and our standard API rate limit is 25 "
    "requests per day. Please subscribe to any of the premium plans.")}
PER_MINUTE = {"Note": "Thank you for using Alpha Vantage! Our standard API call frequency is "
                      "5 calls per minute and 500 calls per day."}

# -- helpers ---------------------------------------------------------------------------------


def url(function: str, symbol: str, month: str | None = None) -> re.Pattern[str]:
    wanted = f"(?=.*[?&]function={function}(&|$))(?=.*[?&]symbol={symbol}(&|$))"
    if month:
        wanted += f"(?=.*[?&]month={month}(&|$))"
    return re.compile(rf"^https://www\.alphavantage\.co/query\?{wanted}.*$")


def calls(mocked: aioresponses) -> list[dict[str, str]]:
    return [dict(u.query) for (_, u), reqs in mocked.requests.items() for _ in reqs]


def fetcher(store: Store, http: aiohttp.ClientSession, market: str, frequency: str,
            now: datetime, **kw: Any) -> AlphaVantageFetcher:
    opts: dict[str, Any] = {"api_key": KEY, "market": markets.get(market, frequency),
                            "min_interval": 0, "backoff": 0, "throttle_wait": 0,
                            "now": lambda: now}
    opts.update(kw)
    return AlphaVantageFetcher(store, http, **opts)


def filler(feed_market: str, frequency: str, symbol: str, start: date, end: date) -> list[Bar]:
    """Plain bars for every session of start..end (a symbol's already stored history)."""
    return [Bar(symbol, s.id, Decimal(100), Decimal(101), Decimal(99), Decimal("100.5"),
                Decimal(1000), "alphavantage")
            for s in markets.get(feed_market, frequency).sessions(start, end)]


async def stored(store: Store, feed: Feed, symbol: str) -> dict[str, tuple[Any, ...]]:
    """{session: (open, high, low, close, volume as Decimal, source)}"""
    async with store.read() as conn:
        cur = await conn.execute(
            "SELECT session, open, high, low, close, volume, source FROM bars WHERE "
            "market = ? AND frequency = ? AND symbol = ? ORDER BY session",
            (feed.market, feed.frequency, symbol))
        return {r[0]: (*(Decimal(x) for x in r[1:6]), r[6]) for r in await cur.fetchall()}


def decimals(*values: Any) -> tuple[Decimal, ...]:
    return tuple(Decimal(str(v)) for v in values)


async def log_rows(store: Store) -> list[tuple[str, str, int]]:
    async with store.read() as conn:
        cur = await conn.execute("SELECT symbol, outcome, bars FROM fetch_log ORDER BY id")
        return [tuple(r) for r in await cur.fetchall()]


# -- US hourly: month slices -----------------------------------------------------------------

NOV5 = datetime(2025, 11, 5, 12, 0, tzinfo=UTC)  # 07:00 New York: 2025-11-04 is complete


async def test_month_slices_only_for_missing_months(store: Store) -> None:
    """October is complete, so only September's and November's missing sessions are asked
    for, one request per month with the parameters of a regular-hours month slice."""
    await upsert_bars(store, US_HOURLY, filler("us", "hourly", "AAPL", date(2025, 10, 1),
                                               date(2025, 11, 3)))
    async with aiohttp.ClientSession() as http:
        f = fetcher(store, http, "us", "hourly", NOV5, history_start=date(2025, 9, 29))
        latest, plans, skipped = await f.plan_slices(["AAPL"])
    assert latest == "2025-11-04T15:00:00-05:00" and skipped == []
    assert [(p.part, len(p.missing)) for p in plans] == [("2025-09", 12), ("2025-11", 6)]
    assert plans[0].missing[0] == "2025-09-29T10:00:00-04:00"
    assert plans[1].missing[-1] == "2025-11-04T15:00:00-05:00"
    assert dict(plans[1].params) == {
        "function": "TIME_SERIES_INTRADAY", "symbol": "AAPL", "interval": "60min",
        "month": "2025-11", "outputsize": "full", "extended_hours": "false",
        "adjusted": "false"}


async def test_default_window_for_a_symbol_with_no_bars(store: Store) -> None:
    """Without --start: a new US hourly symbol gets the latest month, a new coin its latest
    100 days (what one compact answer holds); a demo bar is not a real one."""
    await upsert_bars(store, US_HOURLY, [attrs.evolve(b, source="demo") for b in filler(
        "us", "hourly", "MSFT", date(2025, 11, 3), date(2025, 11, 4))])
    async with aiohttp.ClientSession() as http:
        _, us, _ = await fetcher(store, http, "us", "hourly", NOV5).plan_slices(["MSFT"])
        _, coin, _ = await fetcher(store, http, "crypto", "daily", NOV16).plan_slices(
            ["ETH-USDT"])
    assert [(p.part, p.missing[0], len(p.missing)) for p in us] == [
        ("2025-11", "2025-11-03T10:00:00-05:00", 12)]
    assert [(p.missing[0], p.missing[-1], len(p.missing)) for p in coin] == [
        ("2025-08-08", "2025-11-15", 100)]


async def test_hourly_bars_stored_under_session_ids_and_a_second_run_asks_nothing(
        store: Store, mock_http: aioresponses) -> None:
    """Keys are bar starts on the New York clock: 10:00 on 10-31 is -04:00, on 11-03 -05:00.
    Only the missing sessions are stored (not 10-30 15:00, not an off-session key)."""
    november = intraday("AAPL", AAPL_HOURS, "2025-11")
    november["Time Series (60min)"]["2025-11-04 16:00:00"] = dict(
        zip(FIELDS, ("269.99", "270.1", "269.9", "270.0", "1000"), strict=True))
    mock_http.get(url("TIME_SERIES_INTRADAY", "AAPL", "2025-10"),
                  payload=intraday("AAPL", AAPL_HOURS, "2025-10"))
    mock_http.get(url("TIME_SERIES_INTRADAY", "AAPL", "2025-11"), payload=november)
    async with aiohttp.ClientSession() as http:
        summary = await fetcher(store, http, "us", "hourly", NOV5,
                                history_start=date(2025, 10, 31)).fetch(["AAPL"])
        again = await fetcher(store, http, "us", "hourly", NOV5 + timedelta(minutes=5),
                              history_start=date(2025, 10, 31)).fetch(["AAPL"])
    assert [(r.label, r.outcome, r.new_bars) for r in summary.results] == [
        ("AAPL 2025-10", "fetched", 6), ("AAPL 2025-11", "fetched", 12)]
    assert "1 entries unusable (2025-11-04 16:00:00: not a NASDAQ-100, hourly session)" \
        in summary.results[1].message
    bars = await stored(store, US_HOURLY, "AAPL")
    assert list(bars)[:2] == ["2025-10-31T10:00:00-04:00", "2025-10-31T11:00:00-04:00"]
    assert list(bars)[6] == "2025-11-03T10:00:00-05:00"
    assert list(bars)[-1] == "2025-11-04T15:00:00-05:00" and len(bars) == 18
    assert bars["2025-10-31T10:00:00-04:00"] == (
        *decimals(*AAPL_HOURS["2025-10-31 10:00:00"]), "alphavantage-unadjusted")
    assert len(calls(mock_http)) == 2  # the second run asked nothing
    assert [(r.outcome, r.message) for r in again.results] == [
        ("current", "has 2025-11-04T15:00:00-05:00")]
    assert await log_rows(store) == [("us/hourly:AAPL:2025-10", "fetched", 6),
                                     ("us/hourly:AAPL:2025-11", "fetched", 12)]


async def test_real_hourly_file_as_month_answers(store: Store, mock_http: aioresponses
                                                 ) -> None:
    """Real data: the recorded AAPL 60-minute file served as the October and November slices
    gives the same 174 bars as `prices import` of that file, one per session."""
    doc = json.loads(shared_data("nasdaq100-hourly", "daily_prices_AAPL.json").read_text())
    rows = {k: tuple(v[f] for f in FIELDS) for k, v in doc["Time Series (60min)"].items()}
    for month in ("2025-10", "2025-11"):
        mock_http.get(url("TIME_SERIES_INTRADAY", "AAPL", month),
                      payload=intraday("AAPL", rows, month))
    now = datetime(2025, 11, 11, 12, 0, tzinfo=UTC)
    async with aiohttp.ClientSession() as http:
        summary = await fetcher(store, http, "us", "hourly", now,
                                history_start=date(2025, 10, 1),
                                end=date(2025, 11, 10)).fetch(["AAPL"])
    assert [(r.part, r.outcome, r.new_bars, r.message) for r in summary.results] == [
        ("2025-10", "fetched", 138, ""), ("2025-11", "fetched", 36, "")]
    bars = await stored(store, US_HOURLY, "AAPL")
    sessions = markets.get("us", "hourly").sessions(date(2025, 10, 1), date(2025, 11, 10))
    assert list(bars) == [s.id for s in sessions] and len(bars) == 174
    imported = {b.session: (b.open, b.close) for b in parse_series(doc).bars}
    assert {k: (v[0], v[3]) for k, v in bars.items()} == imported


# -- crypto daily ----------------------------------------------------------------------------

NOV16 = datetime(2025, 11, 16, 12, 0, tzinfo=UTC)  # 2025-11-16 is not over


@pytest.mark.parametrize("older", [False, True], ids=["1. open", "1a. open (USD)"])
async def test_crypto_daily_both_answer_shapes(store: Store, mock_http: aioresponses,
                                               older: bool) -> None:
    """DIGITAL_CURRENCY_DAILY in either field naming; days after the last stored one, the
    unfinished UTC day left out; stored as BTC-USDT under the UTC date."""
    await upsert_bars(store, CRYPTO_DAILY, filler("crypto", "daily", "BTC-USDT",
                                                  date(2025, 11, 1), date(2025, 11, 12)))
    mock_http.get(url("DIGITAL_CURRENCY_DAILY", "BTC"),
                  payload=digital_daily("BTC", BTC_DAYS, older=older))
    async with aiohttp.ClientSession() as http:
        summary = await fetcher(store, http, "crypto", "daily", NOV16).fetch(["BTC-USDT"])
    assert summary.latest_session == "2025-11-15"
    assert [(r.symbol, r.outcome, r.new_bars) for r in summary.results] == [
        ("BTC-USDT", "fetched", 3)]
    (sent,) = calls(mock_http)
    assert sent == {"function": "DIGITAL_CURRENCY_DAILY", "symbol": "BTC", "market": "USD",
                    "apikey": KEY}
    bars = await stored(store, CRYPTO_DAILY, "BTC-USDT")
    assert list(bars)[-3:] == ["2025-11-13", "2025-11-14", "2025-11-15"]
    assert bars["2025-11-14"] == (*decimals(*BTC_DAYS["2025-11-14"]), "alphavantage")


async def test_crypto_day_missing_at_the_provider_is_not_asked_for_again(
        store: Store, mock_http: aioresponses) -> None:
    """An answer without 11-14 stores the rest and says so; a later run does not spend a
    request on a day the provider did not have hours after it ended."""
    rows = {k: v for k, v in BTC_DAYS.items() if k != "2025-11-14"}
    await upsert_bars(store, CRYPTO_DAILY, filler("crypto", "daily", "BTC-USDT",
                                                  date(2025, 11, 12), date(2025, 11, 12)))
    mock_http.get(url("DIGITAL_CURRENCY_DAILY", "BTC"), payload=digital_daily("BTC", rows))
    since = date(2025, 11, 12)  # without a start only days after the last stored bar count
    async with aiohttp.ClientSession() as http:
        first = await fetcher(store, http, "crypto", "daily", NOV16,
                              history_start=since).fetch(["BTC-USDT"])
        later = await fetcher(store, http, "crypto", "daily", NOV16 + timedelta(hours=7),
                              history_start=since).fetch(["BTC-USDT"])
    assert [(r.outcome, r.new_bars, r.message) for r in first.results] == [
        ("fetched", 2, "1 of 3 sessions asked for are not in the answer")]
    assert len(calls(mock_http)) == 1
    assert [(r.outcome, r.message) for r in later.results] == [
        ("current", "1 session without a bar at Alpha Vantage when asked after closing; "
                    "not asked again")]


async def test_days_never_asked_for_are_asked_later(store: Store,
                                                    mock_http: aioresponses) -> None:
    """A first run for 11-14..11-15 says nothing about 11-13: a later run with an earlier
    start asks again and stores it (only sessions a request asked for and its answer's span
    covered count as absent)."""
    mock_http.get(url("DIGITAL_CURRENCY_DAILY", "BTC"), payload=digital_daily("BTC", BTC_DAYS),
                  repeat=True)
    async with aiohttp.ClientSession() as http:
        first = await fetcher(store, http, "crypto", "daily", NOV16,
                              history_start=date(2025, 11, 14)).fetch(["BTC-USDT"])
        later = await fetcher(store, http, "crypto", "daily", NOV16 + timedelta(hours=7),
                              history_start=date(2025, 11, 13)).fetch(["BTC-USDT"])
    assert [(r.outcome, r.new_bars) for r in first.results] == [("fetched", 2)]
    assert [(r.outcome, r.new_bars) for r in later.results] == [("fetched", 1)]
    assert len(calls(mock_http)) == 2
    assert list(await stored(store, CRYPTO_DAILY, "BTC-USDT")) == [
        "2025-11-13", "2025-11-14", "2025-11-15"]


async def test_real_crypto_daily_file(store: Store, mock_http: aioresponses) -> None:
    """Real data: the recorded BTC days under Alpha Vantage's own key and meta data: every
    finished UTC day from 2024-11-26 is stored, the partial 2025-11-16 is not."""
    doc = json.loads(shared_data("crypto-daily", "coin", "daily_prices_BTC.json").read_text())
    rows = {k: tuple(v[f] for f in FIELDS) for k, v in doc["Time Series (Daily)"].items()}
    mock_http.get(url("DIGITAL_CURRENCY_DAILY", "BTC"), payload=digital_daily("BTC", rows))
    async with aiohttp.ClientSession() as http:
        summary = await fetcher(store, http, "crypto", "daily", NOV16,
                                history_start=date(2024, 11, 26)).fetch(["BTC-USDT"])
    assert [(r.outcome, r.new_bars) for r in summary.results] == [("fetched", 355)]
    bars = await stored(store, CRYPTO_DAILY, "BTC-USDT")
    assert (min(bars), max(bars), len(bars)) == ("2024-11-26", "2025-11-15", 355)


# -- crypto hourly ---------------------------------------------------------------------------

NOV10 = datetime(2025, 11, 10, 7, 30, tzinfo=UTC)  # the 07:00 bar is still running


async def test_crypto_hourly_ids_compact_and_second_run(store: Store,
                                                        mock_http: aioresponses) -> None:
    """CRYPTO_INTRADAY (market USDT, as the original asked): UTC hour ids, the running hour
    left out, `compact` for a new coin; asked again a moment later, nothing is sent."""
    mock_http.get(url("CRYPTO_INTRADAY", "BTC"), payload=crypto_intraday("BTC", BTC_HOURS))
    async with aiohttp.ClientSession() as http:
        first = await fetcher(store, http, "crypto", "hourly", NOV10,
                              crypto_market="USDT").fetch(["BTC-USDT"])
        again = await fetcher(store, http, "crypto", "hourly", NOV10 + timedelta(minutes=10),
                              crypto_market="USDT").fetch(["BTC-USDT"])
    assert first.latest_session == "2025-11-10T06:00:00+00:00"
    assert [(r.outcome, r.new_bars, r.message) for r in first.results] == [
        ("fetched", 4, "96 of 100 sessions asked for are not in the answer")]
    (sent,) = calls(mock_http)
    assert sent == {"function": "CRYPTO_INTRADAY", "symbol": "BTC", "market": "USDT",
                    "interval": "60min", "outputsize": "compact", "apikey": KEY}
    bars = await stored(store, CRYPTO_HOURLY, "BTC-USDT")
    assert list(bars) == [f"2025-11-10T0{h}:00:00+00:00" for h in (3, 4, 5, 6)]
    assert bars["2025-11-10T04:00:00+00:00"][3:5] == decimals("106177.52000", 27)
    assert [r.outcome for r in again.results] == ["recent"]


async def test_crypto_hourly_long_gap_asks_full_in_usd(store: Store,
                                                       mock_http: aioresponses) -> None:
    """Hours missing beyond the latest 100 need `full`; an answer quoted in another market
    than the one asked for is refused and stores nothing."""
    mock_http.get(url("CRYPTO_INTRADAY", "BTC"), payload=crypto_intraday("BTC", BTC_HOURS))
    async with aiohttp.ClientSession() as http:
        summary = await fetcher(store, http, "crypto", "hourly", NOV10,
                                history_start=date(2025, 11, 1)).fetch(["BTC-USDT"])
    assert calls(mock_http)[0]["outputsize"] == "full"
    assert calls(mock_http)[0]["market"] == "USD"
    assert [(r.outcome, r.message) for r in summary.results] == [
        ("failed", "the response is quoted in USDT, not USD")]
    assert await stored(store, CRYPTO_HOURLY, "BTC-USDT") == {}


# -- quota, throttling, malformed answers ----------------------------------------------------

async def test_quota_note_stops_the_run_and_reports(store: Store,
                                                    mock_http: aioresponses) -> None:
    """The daily-limit "Information" on the second month ends the run: the first month is
    kept, the rest are reported as rate_limited (with their months), the third month is
    never asked for, and the quoted API key appears in no message."""
    mock_http.get(url("TIME_SERIES_INTRADAY", "AAPL", "2025-10"),
                  payload=intraday("AAPL", AAPL_HOURS, "2025-10"))
    mock_http.get(url("TIME_SERIES_INTRADAY", "AAPL", "2025-11"), payload=DAILY_LIMIT)
    async with aiohttp.ClientSession() as http:
        summary = await fetcher(store, http, "us", "hourly", NOV5,
                                history_start=date(2025, 10, 31)).fetch(["AAPL", "QQQ"])
    assert [(r.label, r.outcome) for r in summary.results] == [
        ("AAPL 2025-10", "fetched"), ("AAPL 2025-11", "rate_limited"),
        ("QQQ 2025-10", "rate_limited"), ("QQQ 2025-11", "rate_limited")]
    assert summary.quota_hit
    assert "25 requests per day" in summary.results[1].message
    assert all(KEY not in r.message for r in summary.results)
    assert "QQQ" not in {c["symbol"] for c in calls(mock_http)}
    assert len(await stored(store, US_HOURLY, "AAPL")) == 6
    assert await log_rows(store) == [("us/hourly:AAPL:2025-10", "fetched", 6)]


async def test_per_minute_note_is_waited_out_once(store: Store,
                                                  mock_http: aioresponses) -> None:
    """A "Note" (the per-minute throttle) is waited out once; the retry's answer is stored."""
    mock_http.get(url("DIGITAL_CURRENCY_DAILY", "ETH"), payload=PER_MINUTE)
    mock_http.get(url("DIGITAL_CURRENCY_DAILY", "ETH"),
                  payload=digital_daily("ETH", {"2025-11-15": ("3000.1", "3100", "2950",
                                                               "3050.5", "1.5")}))
    async with aiohttp.ClientSession() as http:
        summary = await fetcher(store, http, "crypto", "daily", NOV16,
                                history_start=date(2025, 11, 15)).fetch(["ETH-USDT"])
    assert [(r.outcome, r.new_bars) for r in summary.results] == [("fetched", 1)]
    assert len(calls(mock_http)) == 2


MALFORMED: list[tuple[str, dict[str, Any]]] = [
    ("not JSON", {"body": "<html>502 Bad Gateway</html>"}),
    ("series not an object", {"payload": {"Meta Data": {"2. Digital Currency Code": "BTC"},
                                          "Time Series (Digital Currency Daily)": "oops"}}),
    ("another coin", {"payload": digital_daily("ETH", BTC_DAYS)}),
    ("no series", {"payload": {"Meta Data": {"2. Digital Currency Code": "BTC"}}}),
    ("invalid call", {"payload": {"Error Message": "Invalid API call. Please retry."}}),
]


@pytest.mark.parametrize(("case", "answer"), MALFORMED, ids=[c for c, _ in MALFORMED])
async def test_a_malformed_answer_is_reported_and_loses_nothing(
        store: Store, mock_http: aioresponses, case: str, answer: dict[str, Any]) -> None:
    """Whatever comes back instead of a series: the stored bars stay as they were, the
    result says what was wrong, and the next run asks again (nothing counts as fetched)."""
    await upsert_bars(store, CRYPTO_DAILY, filler("crypto", "daily", "BTC-USDT",
                                                  date(2025, 11, 10), date(2025, 11, 13)))
    before = await stored(store, CRYPTO_DAILY, "BTC-USDT")
    mock_http.get(url("DIGITAL_CURRENCY_DAILY", "BTC"), **answer)
    async with aiohttp.ClientSession() as http:
        summary = await fetcher(store, http, "crypto", "daily", NOV16).fetch(["BTC-USDT"])
        _, plans, _ = await fetcher(store, http, "crypto", "daily", NOV16).plan_slices(
            ["BTC-USDT"])
    (result,) = summary.results
    assert result.outcome == ("invalid" if case == "invalid call" else "failed")
    assert result.message and KEY not in result.message
    expected = {"not JSON": "not JSON", "series not an object": "is not an object",
                "another coin": "the response is for ETH-USDT", "no series": "no daily series",
                "invalid call": "Invalid API call"}[case]
    assert expected in result.message
    assert await stored(store, CRYPTO_DAILY, "BTC-USDT") == before
    assert [p.missing for p in plans] == [("2025-11-14", "2025-11-15")]


async def test_a_bar_with_garbage_is_skipped_and_said(store: Store,
                                                      mock_http: aioresponses) -> None:
    """One unusable bar in an otherwise good answer: the others are stored, the result says
    which entry was dropped."""
    body = digital_daily("BTC", BTC_DAYS)
    body["Time Series (Digital Currency Daily)"]["2025-11-14"]["4. close"] = "n/a"
    mock_http.get(url("DIGITAL_CURRENCY_DAILY", "BTC"), payload=body)
    async with aiohttp.ClientSession() as http:
        summary = await fetcher(store, http, "crypto", "daily", NOV16,
                                history_start=date(2025, 11, 13)).fetch(["BTC-USDT"])
    (result,) = summary.results
    assert (result.outcome, result.new_bars) == ("fetched", 2)
    assert "2025-11-14: a value is not a number" in result.message
    assert list(await stored(store, CRYPTO_DAILY, "BTC-USDT")) == ["2025-11-13", "2025-11-15"]


def test_older_crypto_fields_are_renamed_for_avformat() -> None:
    """`1a. open (USD)` becomes `1. open`; other documents pass unchanged."""
    doc = as_series_document(digital_daily("SOL", {"2025-11-15": ("1", "2", "0.5", "1.5",
                                                                  "9")}, older=True))
    bar = doc["Time Series (Daily)"]["2025-11-15"]
    assert [bar[f] for f in FIELDS] == ["1", "2", "0.5", "1.5", "9"]
    plain = intraday("AAPL", AAPL_HOURS, "2025-10")
    assert as_series_document(plain) is plain


# -- markets that are not fetched, symbols outside the universe, the command line -------------

async def test_a_shares_are_imported_not_fetched(store: Store) -> None:
    async with aiohttp.ClientSession() as http:
        with pytest.raises(DataError, match="aitrader prices import"):
            AlphaVantageFetcher(store, http, api_key=KEY, market=markets.get("cn", "daily"))


async def test_a_symbol_outside_the_universe_is_not_asked_for(
        store: Store, mock_http: aioresponses) -> None:
    async with aiohttp.ClientSession() as http:
        summary = await fetcher(store, http, "crypto", "hourly", NOV10).fetch(["DOGE-USDT"])
    assert [(r.outcome, r.message) for r in summary.results] == [
        ("invalid", "not a symbol of Crypto (10 coins in USDT), hourly")]
    assert calls(mock_http) == []


def test_cli_cn_says_how_to_import(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`--market cn` is one clear error line naming the import command and the files."""
    code = main(["prices", "fetch", "--market", "cn", "--frequency", "hourly",
                 "--db", str(tmp_path / "x.db")])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "aitrader prices import" in err and "merged_hourly.jsonl" in err


def test_cli_fetches_crypto_daily(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                  monkeypatch: pytest.MonkeyPatch,
                                  mock_http: aioresponses) -> None:
    """`prices fetch --market crypto` end to end: symbols as the user writes them, the range,
    the table of outcomes."""
    monkeypatch.setenv("ALPHAADVANTAGE_API_KEY", KEY)
    mock_http.get(url("DIGITAL_CURRENCY_DAILY", "BTC"), payload=digital_daily("BTC", BTC_DAYS))
    code = main(["prices", "fetch", "--market", "crypto", "--symbols", "btc", "--start",
                 "2025-11-13", "--end", "2025-11-15", "--db", str(tmp_path / "x.db")])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "Alpha Vantage fetch, crypto/daily (latest session 2025-11-15)" in " ".join(
        out.split())
    assert "BTC-USDT" in out and "fetched" in out
    assert calls(mock_http)[0]["market"] == "USD"


@pytest.mark.parametrize(("args", "message"), [
    (["--end", "2025-11-01"], "--end is for hourly and crypto fetches"),
    (["--quote", "USDT"], "--quote is for --market crypto"),
    (["--market", "crypto", "--start", "2025-11-02", "--end", "2025-11-01"], "is after --end"),
])
def test_cli_refuses_options_that_do_not_apply(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str],
                                               args: list[str], message: str) -> None:
    assert main(["prices", "fetch", *args, "--db", str(tmp_path / "x.db")]) == 2
    assert message in capsys.readouterr().err
