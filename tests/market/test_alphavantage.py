"""The Alpha Vantage fetcher against replayed real responses (aioresponses)."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from typing import Any

import aiohttp
import pytest
from aioresponses import aioresponses

from aitrader.errors import DataError
from aitrader.market.alphavantage import AlphaVantageFetcher
from aitrader.market.avformat import parse_series
from aitrader.market.calendar import nyse
from aitrader.market.prices import US_DAILY, upsert_bars
from aitrader.store import Store
from tests.conftest import shared_data

KEY = "SECRET-AV-KEY-123"
NOW = datetime(2025, 10, 31, 12, 0, tzinfo=UTC)  # latest closed session: 2025-10-30


def real(symbol: str, *, until: str | None = None) -> dict[str, Any]:
    path = shared_data("nasdaq100-daily", f"daily_prices_{symbol}.json")
    doc: dict[str, Any] = json.loads(path.read_text())
    if until:
        doc["Time Series (Daily)"] = {d: v for d, v in doc["Time Series (Daily)"].items()
                                      if d <= until}
    return doc


def url_for(symbol: str) -> re.Pattern[str]:
    return re.compile(rf"^https://www\.alphavantage\.co/query\?.*symbol={symbol}(&.*)?$")


def calls(mocked: aioresponses) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    for (_, url), reqs in mocked.requests.items():
        out.extend({**dict(url.query)} for _ in reqs)
    return out


def fetcher(store: Store, http: aiohttp.ClientSession, **kw: Any) -> AlphaVantageFetcher:
    opts: dict[str, Any] = {"api_key": KEY, "calendar": nyse(), "min_interval": 0,
                            "backoff": 0, "throttle_wait": 0, "now": lambda: NOW}
    opts.update(kw)
    return AlphaVantageFetcher(store, http, **opts)


async def test_only_missing_days_of_missing_symbols(store: Store, mock_http: aioresponses
                                                    ) -> None:
    """Current symbols are not asked for; a behind symbol gets only its new days."""
    await upsert_bars(store, US_DAILY, parse_series(real("AAPL", until="2025-10-27")).bars)
    await upsert_bars(store, US_DAILY, parse_series(real("QQQ")).bars)
    mock_http.get(url_for("AAPL"), payload=real("AAPL"))
    mock_http.get(url_for("MSFT"), payload=real("MSFT"))
    async with aiohttp.ClientSession() as http:
        summary = await fetcher(store, http).fetch(["AAPL", "MSFT", "QQQ"])
    by = {r.symbol: r for r in summary.results}
    assert summary.latest_session == "2025-10-30"
    assert by["QQQ"].outcome == "current"
    assert (by["AAPL"].outcome, by["AAPL"].new_bars) == ("fetched", 3)
    assert (by["MSFT"].outcome, by["MSFT"].new_bars) == ("fetched", 100)
    sent = calls(mock_http)
    assert sorted(c["symbol"] for c in sent) == ["AAPL", "MSFT"]
    assert all(c["outputsize"] == "compact" and c["apikey"] == KEY for c in sent)
    async with store.read() as conn:
        cur = await conn.execute("SELECT symbol, outcome, bars FROM fetch_log ORDER BY id")
        assert [tuple(r) for r in await cur.fetchall()] == [("AAPL", "fetched", 3),
                                                            ("MSFT", "fetched", 100)]


async def test_daily_quota_stops_and_says_what_was_not_fetched(
        store: Store, mock_http: aioresponses) -> None:
    """An "Information" rate-limit body ends the run; the rest are reported, nothing lost."""
    mock_http.get(url_for("AAPL"), payload=real("AAPL"))
    mock_http.get(url_for("MSFT"), payload={"Information": (
        f"We have detected your API key as {KEY} and our standard API rate limit is 25 "
        "requests per day.")})
    async with aiohttp.ClientSession() as http:
        summary = await fetcher(store, http).fetch(["AAPL", "MSFT", "NVDA"])
    assert [(r.symbol, r.outcome) for r in summary.results] == [
        ("AAPL", "fetched"), ("MSFT", "rate_limited"), ("NVDA", "rate_limited")]
    assert summary.quota_hit
    assert "NVDA" not in {c["symbol"] for c in calls(mock_http)}
    async with store.read() as conn:
        cur = await conn.execute("SELECT COUNT(*) FROM bars WHERE symbol = 'AAPL'")
        assert tuple(await cur.fetchone() or ()) == (100,)


async def test_per_minute_note_waits_once_then_succeeds(store: Store,
                                                        mock_http: aioresponses) -> None:
    """A "Note" (per-minute throttle) is waited out once; the retry's data is stored."""
    mock_http.get(url_for("AAPL"), payload={
        "Note": "Thank you for using Alpha Vantage! Our standard API call frequency is 5 "
                "calls per minute and 500 calls per day."})
    mock_http.get(url_for("AAPL"), payload=real("AAPL"))
    async with aiohttp.ClientSession() as http:
        summary = await fetcher(store, http).fetch(["AAPL"])
    assert [(r.outcome, r.new_bars) for r in summary.results] == [("fetched", 100)]


async def test_5xx_is_retried_with_backoff(store: Store, mock_http: aioresponses) -> None:
    """Two 503s then data: fetched. A symbol failing every try is reported, the next goes on."""
    mock_http.get(url_for("AAPL"), status=503)
    mock_http.get(url_for("AAPL"), status=502)
    mock_http.get(url_for("AAPL"), payload=real("AAPL"))
    for _ in range(4):
        mock_http.get(url_for("MSFT"), status=500)
    mock_http.get(url_for("NVDA"), payload=real("NVDA"))
    async with aiohttp.ClientSession() as http:
        summary = await fetcher(store, http, retries=3).fetch(["AAPL", "MSFT", "NVDA"])
    by = {r.symbol: r for r in summary.results}
    assert by["AAPL"].outcome == "fetched"
    assert by["MSFT"].outcome == "failed"
    assert by["MSFT"].message == "HTTP 500 from Alpha Vantage (after 4 tries)"
    assert by["NVDA"].outcome == "fetched"


async def test_full_history_is_premium_so_compact_is_used(store: Store,
                                                          mock_http: aioresponses) -> None:
    """A long history asks for `full`; its premium notice falls back to `compact`, said plainly."""
    mock_http.get(url_for("AAPL"), payload={"Information": (
        "Thank you for using Alpha Vantage! The **outputsize=full** parameter value is a "
        "premium feature for the TIME_SERIES_DAILY endpoint.")})
    mock_http.get(url_for("AAPL"), payload=real("AAPL"))
    async with aiohttp.ClientSession() as http:
        summary = await fetcher(store, http, history_start=date(2024, 1, 2)).fetch(["AAPL"])
    assert [c["outputsize"] for c in calls(mock_http)] == ["full", "compact"]
    (result,) = summary.results
    assert result.outcome == "fetched" and result.new_bars == 100
    assert "premium" in result.message


async def test_recently_fetched_symbols_are_not_asked_again(store: Store,
                                                            mock_http: aioresponses) -> None:
    """The provider lags a day: a second run right after does not spend a request."""
    mock_http.get(url_for("AAPL"), payload=real("AAPL", until="2025-10-29"))
    async with aiohttp.ClientSession() as http:
        first = await fetcher(store, http).fetch(["AAPL"])
        second = await fetcher(store, http).fetch(["AAPL"])
    assert first.results[0].outcome == "fetched"
    assert second.results[0].outcome == "recent"
    assert len(calls(mock_http)) == 1


async def test_unknown_symbol_and_secrets(store: Store, mock_http: aioresponses) -> None:
    """An "Error Message" marks the symbol invalid; no message carries the API key."""
    mock_http.get(url_for("ZZZZ"), payload={"Error Message": "Invalid API call."})
    mock_http.get(url_for("AAPL"), exception=aiohttp.ClientConnectionError("down"),
                  repeat=True)
    async with aiohttp.ClientSession() as http:
        summary = await fetcher(store, http, retries=1).fetch(["ZZZZ", "AAPL"])
    assert [(r.symbol, r.outcome) for r in summary.results] == [("ZZZZ", "invalid"),
                                                                ("AAPL", "failed")]
    assert "network error" in summary.results[1].message
    assert all(KEY not in r.message for r in summary.results)


async def test_no_key_is_a_clear_error(store: Store) -> None:
    """Without a key the fetcher says so and points at the demo market."""
    async with aiohttp.ClientSession() as http:
        with pytest.raises(DataError, match="ALPHAADVANTAGE_API_KEY"):
            AlphaVantageFetcher(store, http, api_key="", calendar=nyse())
