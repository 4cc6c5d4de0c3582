"""Loading real Alpha Vantage files and AI-Trader merged.jsonl; price status and gaps."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from aitrader.errors import DataError, InvalidInput
from aitrader.market.avformat import notice_of, parse_series
from aitrader.market.loader import import_price_files
from aitrader.market.prices import US_DAILY, Feed, get_bar
from aitrader.market.status import price_status
from aitrader.store import Store
from tests.conftest import shared_data


async def test_real_nasdaq100_files_import_exactly(store: Store) -> None:
    """All 103 real files load; a bar equals the file's strings to the 1/10,000 dollar."""
    folder = shared_data("nasdaq100-daily")
    summary = await import_price_files(store, [folder])
    assert len(summary.symbols) == 103
    assert not summary.rejected and not summary.skipped
    raw = json.loads((folder / "daily_prices_AAPL.json").read_text())
    assert summary.symbols["AAPL"] == len(raw["Time Series (Daily)"])
    day = raw["Time Series (Daily)"]["2025-10-29"]
    async with store.read() as conn:
        bar = await get_bar(conn, US_DAILY, "AAPL", "2025-10-29")
    assert bar is not None and bar.source == "alphavantage"
    assert (bar.open, bar.high, bar.low, bar.close, bar.volume) == (  # exactly as written
        Decimal(day["1. open"]), Decimal(day["2. high"]), Decimal(day["3. low"]),
        Decimal(day["4. close"]), Decimal(day["5. volume"]))


async def test_status_reports_fb_ending_early_and_not_meta(store: Store) -> None:
    """FB is its own (non-universe) listing that stops on 2025-10-16; META is complete."""
    await import_price_files(store, [shared_data("nasdaq100-daily")])
    st = await price_status(store)
    assert (st.first, st.last) == ("2025-06-10", "2025-10-30")
    by = {s.symbol: s for s in st.symbols}
    assert by["FB"].ends_early and by["FB"].last == "2025-10-16" and not by["FB"].in_universe
    assert not by["META"].ends_early and by["META"].last == "2025-10-30"
    assert [s.symbol for s in st.with_gaps] == ["FB"]
    assert not st.absent and not st.synthetic


def _merged_line(av: dict) -> dict:  # type: ignore[type-arg]
    """AI-Trader's merged.jsonl shape from an Alpha Vantage document."""
    series = {}
    newest = max(av["Time Series (Daily)"])
    for day, v in av["Time Series (Daily)"].items():
        if day == newest:
            series[day] = {"1. buy price": v["1. open"]}
        else:
            series[day] = {"1. buy price": v["1. open"], "2. high": v["2. high"],
                           "3. low": v["3. low"], "4. sell price": v["4. close"],
                           "5. volume": v["5. volume"]}
    return {"Meta Data": av["Meta Data"], "Time Series (Daily)": series}


async def test_merged_jsonl_loads_and_skips_the_open_only_day(store: Store,
                                                              tmp_path: Path) -> None:
    """merged.jsonl's renamed keys load; its newest day (open only) is skipped and reported."""
    folder = shared_data("nasdaq100-daily")
    lines = [json.dumps(_merged_line(json.loads((folder / f"daily_prices_{s}.json")
                                                 .read_text()))) for s in ("NVDA", "QQQ")]
    merged = tmp_path / "merged.jsonl"
    merged.write_text("\n".join(lines) + "\n")
    summary = await import_price_files(store, [merged])
    assert set(summary.symbols) == {"NVDA", "QQQ"}
    assert summary.skipped == ["NVDA 2025-10-30: open only (no close yet)",
                               "QQQ 2025-10-30: open only (no close yet)"]
    async with store.read() as conn:
        assert await get_bar(conn, US_DAILY, "NVDA", "2025-10-30") is None
        bar = await get_bar(conn, US_DAILY, "NVDA", "2025-10-29")
    assert bar is not None and bar.source == "aitrader"


@pytest.mark.parametrize(("body", "kind"), [
    ({"Note": "Thank you for using Alpha Vantage! Our standard API call frequency is 5 calls "
              "per minute and 500 calls per day."}, "rate_limit"),
    ({"Information": "We have detected your API key as DEMO and our standard API rate limit "
                     "is 25 requests per day. Please subscribe to any of the premium plans at "
                     "https://www.alphavantage.co/premium/ to instantly remove all daily rate "
                     "limits."}, "rate_limit"),
    ({"Information": "Thank you for using Alpha Vantage! The **outputsize=full** parameter "
                     "value is a premium feature for the TIME_SERIES_DAILY endpoint. You may "
                     "subscribe to any of the premium plans at "
                     "https://www.alphavantage.co/premium/ to instantly unlock all premium "
                     "features"}, "premium"),
    ({"Error Message": "Invalid API call. Please retry or visit the documentation "
                       "(https://www.alphavantage.co/documentation/) for TIME_SERIES_DAILY."},
     "invalid"),
    ({}, "unknown"),
])
def test_notices_are_told_apart(body: dict, kind: str) -> None:  # type: ignore[type-arg]
    """Rate limit, premium-only and error bodies (all HTTP 200) are not data."""
    notice = notice_of(body)
    assert notice is not None and notice.kind == kind
    with pytest.raises(DataError):
        parse_series(body)


def test_insane_bars_are_skipped_with_a_reason() -> None:
    """A bar with high below the close or a non-number is skipped, not stored."""
    doc = {"Meta Data": {"2. Symbol": "aapl"}, "Time Series (Daily)": {
        "2025-10-01": {"1. open": "10", "2. high": "9", "3. low": "8", "4. close": "10",
                       "5. volume": "1"},
        "2025-10-02": {"1. open": "x", "2. high": "9", "3. low": "8", "4. close": "10",
                       "5. volume": "1"},
        "2025-10-03": {"1. open": "10", "2. high": "11", "3. low": "9", "4. close": "10.5",
                       "5. volume": "100"}}}
    parsed = parse_series(doc)
    assert parsed.symbol == "AAPL"
    assert [b.session for b in parsed.bars] == ["2025-10-03"]
    assert parsed.skipped == ["2025-10-01: high is below open, close or low",
                              "2025-10-02: a value is not a number"]


async def test_bad_files_are_refused_clearly(store: Store, tmp_path: Path) -> None:
    """Malformed JSON names the file; a missing path is an error; a notice is rejected."""
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(InvalidInput, match=r"bad\.json: not valid JSON"):
        await import_price_files(store, [bad])
    with pytest.raises(InvalidInput, match="no such file"):
        await import_price_files(store, [tmp_path / "missing.json"])
    note = tmp_path / "note.json"
    note.write_text(json.dumps({"Note": "call frequency is 5 calls per minute"}))
    summary = await import_price_files(store, [note])
    assert summary.bars == 0 and summary.rejected[0].startswith("note.json: not a daily series")


@pytest.mark.parametrize(("parts", "feed", "symbols", "bars", "first", "last"), [
    (("sse50-daily", "merged.jsonl"), ("cn", "daily"), 50, 1450, "2025-10-09", "2025-11-18"),
    (("sse50-hourly", "merged_hourly.jsonl"), ("cn", "hourly"), 50, 5950,
     "2025-10-09T09:30:00+08:00", "2025-11-19T13:00:00+08:00"),  # labels are bar ends
    (("sse50-daily", "index_daily_sse_50.json"), ("cn", "daily"), 1, 31, "2025-09-30",
     "2025-11-19"),
    (("crypto-daily", "coin"), ("crypto", "daily"), 10, 3560, "2024-11-26", "2025-11-16"),
    (("crypto-hourly", "coin"), ("crypto", "hourly"), 8, 2800,
     "2025-10-20T21:00:00+00:00", "2025-11-10T07:00:00+00:00"),
    (("nasdaq100-hourly",), ("us", "hourly"), 102, 17748, "2025-10-01T10:00:00-04:00",
     "2025-11-10T15:00:00-05:00"),  # daylight saving ends on 2 November
    # the raw tables behind the merged files: Tushare daily, the hourly table (bar ends)
    (("sse50-daily", "raw"), ("cn", "daily"), 50, 1500, "2025-10-09", "2025-11-19"),
    (("sse50-hourly", "raw"), ("cn", "hourly"), 50, 6000, "2025-10-09T09:30:00+08:00",
     "2025-11-19T14:00:00+08:00"),
    # the merged files the original's crypto tools read (the newest, partial bar cut)
    (("crypto-daily", "crypto_merged.jsonl"), ("crypto", "daily"), 10, 3550, "2024-11-26",
     "2025-11-15"),
    (("crypto-hourly", "crypto_hourly_merged.jsonl"), ("crypto", "hourly"), 8, 2792,
     "2025-10-20T21:00:00+00:00", "2025-11-10T06:00:00+00:00"),
    # the original's CD5 series (only open and close), in the crypto feeds, not as a coin
    (("crypto-daily", "CD5_crypto_index.json"), ("crypto", "daily"), 1, 15, "2025-11-01",
     "2025-11-15"),
    (("crypto-hourly", "CD5_crypto_index_hourly.json"), ("crypto", "hourly"), 1, 349,
     "2025-10-26T18:00:00+00:00", "2025-11-10T06:00:00+00:00"),
])
async def test_the_originals_files_of_every_market_import(
        store: Store, parts: tuple[str, ...], feed: tuple[str, str], symbols: int, bars: int,
        first: str, last: str) -> None:
    """Each real file lands in its market's feed, its keys turned into session ids."""
    summary = await import_price_files(store, [shared_data(*parts)])
    assert (len(summary.symbols), summary.bars) == (symbols, bars)
    async with store.read() as conn:
        cur = await conn.execute(
            "SELECT market, frequency, MIN(session), MAX(session) FROM bars GROUP BY 1, 2")
        assert [tuple(r) for r in await cur.fetchall()] == [(*feed, first, last)]


async def test_an_a_share_hourly_bar_is_named_by_its_start(store: Store) -> None:
    await import_price_files(store, [shared_data("sse50-hourly", "merged_hourly.jsonl")])
    async with store.read() as conn:
        bar = await get_bar(conn, Feed("cn", "hourly"), "600028.SH",
                            "2025-10-09T09:30:00+08:00")  # the file's "2025-10-09 10:30:00"
    assert bar is not None and (bar.open, bar.close) == (Decimal("5.29"), Decimal("5.31"))


async def test_alpha_vantage_shanghai_files_and_their_traps(store: Store) -> None:
    """`.SHH` is stored `.SH`; `1,433.3300` is 1433.33; the index file's first bars (near
    4.7, not the index) are skipped and reported, not imported."""
    summary = await import_price_files(store, [shared_data("sse50-daily", "alphavantage")])
    assert len(summary.symbols) == 51 and "000016.SH" in summary.symbols
    assert any(s.startswith("000016.SH 2025-06-12: close 4.7900 is implausible")
               for s in summary.skipped), summary.skipped
    async with store.read() as conn:
        bar = await get_bar(conn, Feed("cn", "daily"), "600519.SH", "2025-11-06")
        cur = await conn.execute("SELECT MIN(CAST(close AS REAL)) FROM bars "
                                 "WHERE symbol = '000016.SH'")
        lowest = (await cur.fetchone() or (0,))[0]
    assert bar is not None and bar.close == Decimal("1433.33")
    assert lowest > 2000


async def test_status_of_an_hourly_feed(store: Store) -> None:
    """`prices status --market cn --frequency hourly`: sessions, not days, are counted."""
    from aitrader import markets

    await import_price_files(store, [shared_data("sse50-hourly", "merged_hourly.jsonl")])
    st = await price_status(store, markets.get("cn", "hourly"))
    assert (st.first, len(st.symbols), st.absent) == ("2025-10-09T09:30:00+08:00", 50, ())
    # 30 days x 4 but the cut newest bar (11-19 14:00), no holes
    assert all(s.bars == 119 and not s.missing for s in st.symbols)
    assert st.last == "2025-11-19T13:00:00+08:00"
    assert await price_status(store) == (await price_status(store, markets.get()))


async def test_the_raw_tables_give_the_close_the_merged_files_cut(store: Store) -> None:
    """A folder's weights table is reported, not fatal; the raw daily table has 11-19's
    close, which merged.jsonl cut to its open."""
    summary = await import_price_files(store, [shared_data("sse50-daily")])
    assert any(r.startswith("sse_50_weight.csv: not one of the original's price tables")
               for r in summary.rejected)
    async with store.read() as conn:
        assert await get_bar(conn, Feed("cn", "daily"), "600519.SH", "2025-11-19") is None
    async with store.read() as conn:
        merged = await get_bar(conn, Feed("cn", "daily"), "600028.SH", "2025-10-09")
    await import_price_files(store, [shared_data("sse50-daily", "raw")])
    async with store.read() as conn:
        bar = await get_bar(conn, Feed("cn", "daily"), "600519.SH", "2025-11-19")
        raw = await get_bar(conn, Feed("cn", "daily"), "600028.SH", "2025-10-09")
        cd5 = await get_bar(conn, Feed("us", "daily"), "CD5", "2025-11-02")
    assert bar is not None and bar.close > 0 and bar.source == "tushare" and cd5 is None
    # Tushare's volume in lots of 100 is stored in shares, as the merged file has it
    assert merged is not None and raw is not None
    assert raw.volume == Decimal("146386033") and abs(raw.volume - merged.volume) <= 100
