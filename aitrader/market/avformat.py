"""Reading Alpha Vantage series documents and AI-Trader's merged files (same shape, with
"1. buy price" / "4. sell price", and the newest bar cut to its open), for every market.

The market comes from the symbol (`AAPL`, `600028.SH` or Alpha Vantage's `600028.SHH`,
`BTC`), the frequency from the series key (`Time Series (Daily)` or `(60min)`). Hourly keys
are wall-clock times in the market's zone: US and crypto label a bar by its start, the
original's A-share files by its END (`10:30:00` is the 09:30 bar); each becomes its session
id. A key that is no session of the market is skipped and reported."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs

from aitrader import markets
from aitrader.errors import DataError, InvalidInput
from aitrader.market.prices import US_DAILY, Bar, Feed
from aitrader.market.symbols import normalise
from aitrader.markets import Market
from aitrader.money import dec, text

SERIES_KEY = "Time Series (Daily)"
HOURLY_KEY = "Time Series (60min)"
_OPEN = ("1. open", "1. buy price")
_CLOSE = ("4. close", "4. sell price")


@attrs.frozen
class Notice:
    """A body that is an Alpha Vantage message instead of data."""

    kind: str  # rate_limit | premium | invalid | unknown
    message: str


def notice_of(doc: object) -> Notice | None:
    """Classify a "Note" / "Information" / "Error Message" body; None for a data body.

    Alpha Vantage answers 200 to all of these: "Note" is the per-minute throttle, "Information"
    is either the daily quota ("... rate limit is 25 requests per day ...") or a premium-only
    feature ("... is a premium feature ..."), and "Error Message" is a bad symbol or call.
    """
    if not isinstance(doc, dict):
        return Notice("unknown", "the response is not a JSON object")
    if SERIES_KEY in doc or HOURLY_KEY in doc:
        return None
    if "Error Message" in doc:
        return Notice("invalid", str(doc["Error Message"]))
    if "Note" in doc:
        return Notice("rate_limit", str(doc["Note"]))
    if "Information" in doc:
        text = str(doc["Information"])
        low = text.lower()
        limited = any(w in low for w in ("rate limit", "per day", "per second", "per minute",
                                          "sparingly", "burst"))
        return Notice("rate_limit" if limited else "premium", text)
    return Notice("unknown", "the response has no daily series")


def _first(day: dict[str, Any], keys: tuple[str, ...]) -> Any:
    for key in keys:
        if key in day:
            return day[key]
    return None


@attrs.frozen
class ParsedSeries:
    symbol: str
    bars: list[Bar]
    skipped: list[str]  # "date: why" for each day that was not a usable bar
    feed: Feed = US_DAILY


def market_of(raw_symbol: str, hourly: bool) -> tuple[Market, str]:
    """The market a symbol trades in, and the symbol as stored there (US when none claims
    it: a symbol outside every universe is kept as it was, under the US market)."""
    frequency = "hourly" if hourly else "daily"
    for key in ("cn", "crypto"):
        market = markets.get(key, frequency)
        named = str(raw_symbol).strip().upper()
        if named in {market.benchmark.symbol, market.benchmark.index}:  # CD5 is no coin
            return market, named
        sym = market.normalise(raw_symbol)
        if market.in_universe(sym) or sym == market.benchmark.symbol:
            return market, sym
    return markets.get("us", frequency), normalise(raw_symbol)


def _session_id(market: Market, key: str) -> str | None:
    """A series key as the session id it names in `market`, or None."""
    if not market.hourly:
        return key if len(key) == 10 and key[4] == "-" and key[7] == "-" else None
    try:
        wall = datetime.fromisoformat(key.strip())
    except ValueError:
        return None
    start = wall.replace(tzinfo=market.schedule.zone)
    if market.key == "cn":  # the original labels A-share bars by their end
        start -= timedelta(hours=1)
    found = market.schedule.at(start)
    return found.id if found else None


def parse_series(doc: dict[str, Any], *, source: str | None = None) -> ParsedSeries:
    """Bars of one symbol; days without a close (merged.jsonl's newest) or insane are skipped.

    The source is "aitrader" for merged.jsonl's renamed keys, else "alphavantage", unless given.
    """
    notice = notice_of(doc)
    if notice:
        raise DataError(f"not a daily series: {notice.message}", kind=notice.kind)
    meta = doc.get("Meta Data") or {}
    raw_symbol = str(meta.get("2. Symbol") or meta.get("2. Digital Currency Code") or "")
    if not raw_symbol.strip():
        raise DataError("the series has no '2. Symbol' in its Meta Data")
    hourly = HOURLY_KEY in doc
    market, symbol = market_of(raw_symbol, hourly)
    key_name = HOURLY_KEY if hourly else SERIES_KEY
    series = doc[key_name]
    if not isinstance(series, dict):
        raise DataError(f"{symbol}: '{key_name}' is not an object")
    if source is None and isinstance(meta, dict) and meta.get(SOURCE_KEY):
        source = str(meta[SOURCE_KEY])  # a raw table's provider (tushare, efinance)
    if source is None:
        renamed = any(isinstance(v, dict) and _OPEN[1] in v for v in series.values())
        source = "aitrader" if renamed else "alphavantage"
    bars: list[Bar] = []
    skipped: list[str] = []
    enveloped = 0
    for day, values in series.items():
        if not isinstance(values, dict):
            skipped.append(f"{day}: not an object")
            continue
        opened, closed = _first(values, _OPEN), _first(values, _CLOSE)
        if closed is None or values.get("2. high") is None or values.get("3. low") is None:
            skipped.append(f"{day}: open only (no close yet)")
            continue
        try:
            bar = Bar(
                symbol=symbol,
                session=_session_id(market, str(day)) or "",
                open=dec(opened),
                high=dec(values["2. high"]),
                low=dec(values["3. low"]),
                close=dec(closed),
                volume=dec(values.get("5. volume", 0)),
                source=source,
            )
            if bar.high == bar.low == 0 and symbol == market.benchmark.index \
                    and bar.open > 0 and bar.close > 0:
                # the original's CD5 files carry only open and close (high and low are 0)
                bar = attrs.evolve(bar, high=max(bar.open, bar.close),
                                   low=min(bar.open, bar.close))
                enveloped += 1
        except (ValueError, TypeError):
            skipped.append(f"{day}: a value is not a number")
            continue
        why = (("not a YYYY-MM-DD date" if not market.hourly else
                f"not a {market.title} session") if not bar.session else bar.problem())
        if why:
            skipped.append(f"{day}: {why}")
            continue
        bars.append(bar)
    if enveloped:
        skipped.append(f"high and low are 0 in {enveloped} bars (a synthetic index): taken "
                       f"from their open and close")
    bars.sort(key=lambda b: b.session)
    if bars:  # a value off by a factor of ten from the series' median is not this series
        # (Alpha Vantage's 000016.SHH starts with bars near 4.7 for an index near 2,700)
        median = sorted(b.close for b in bars)[len(bars) // 2]
        sane = [b for b in bars if median / 10 <= b.close <= median * 10]
        skipped.extend(f"{b.session}: close {b.close} is implausible for a series around "
                       f"{median}" for b in bars if b not in sane)
        bars = sane
    return ParsedSeries(symbol, bars, skipped, Feed(market.key, market.frequency))


def read_documents(path: Path) -> Iterator[tuple[str, dict[str, Any] | None]]:
    """(origin, document) for a .json file, each line of a .jsonl file, each symbol of the
    original's raw A-share .csv tables, or a folder of them. In a folder, a .csv that is no
    price table (the index weights beside the prices) is (why, None): reported, not fatal."""
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix in (".json", ".jsonl", ".csv"))
        if not files:
            raise InvalidInput(f"{path.name}: no .json, .jsonl or .csv files in this folder")
        for child in files:
            try:
                yield from read_documents(child)
            except InvalidInput as exc:
                if child.suffix != ".csv":
                    raise
                yield exc.message, None
        return
    if not path.is_file():
        raise InvalidInput(f"{path}: no such file or folder")
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix == ".csv":
        yield from _csv_documents(text, path.name)
        return
    if path.suffix == ".jsonl":
        for n, line in enumerate(text.splitlines(), 1):
            if line.strip():
                yield f"{path.name}:{n}", _loads(line, f"{path.name}:{n}")
    else:
        yield path.name, _loads(text, path.name)


# The original's raw A-share tables (MARKETS.md, data README): Tushare `daily`
# (ts_code, trade_date YYYYMMDD, open, high, low, close, ..., vol in lots) and the efinance
# hourly table (stock_code, trade_date "YYYY-MM-DD HH:MM", the bar's END, open, close, high,
# low, volume in lots). Each symbol becomes one document in the Alpha Vantage shape, so one
# parser reads them all; volumes stay in the file's unit, as for the merged files.
# Tushare's `vol` is in lots of 100 where the merged daily file (its own conversion) has
# shares: it is multiplied, so one feed keeps one unit. The hourly table and merged_hourly
# both have lots (kept, as documented).
SOURCE_KEY = "aitrader.source"
_CSV_SHAPES = {
    frozenset({"ts_code", "trade_date", "open", "high", "low", "close", "vol"}):
        ("ts_code", "Time Series (Daily)", "vol", Decimal(100), "tushare"),
    frozenset({"stock_code", "trade_date", "open", "high", "low", "close", "volume"}):
        ("stock_code", "Time Series (60min)", "volume", Decimal(1), "efinance"),
}


def _csv_documents(text: str, origin: str) -> Iterator[tuple[str, dict[str, Any]]]:
    rows = csv.DictReader(io.StringIO(text))
    header = frozenset(rows.fieldnames or ())
    shape = next((v for k, v in _CSV_SHAPES.items() if k <= header), None)
    if shape is None:
        raise InvalidInput(f"{origin}: not one of the original's price tables (a Tushare "
                           f"daily table or the A-share hourly table); columns "
                           f"{', '.join(sorted(header))[:120]}")
    code, series_key, volume, per_unit, provider = shape
    docs: dict[str, dict[str, dict[str, str]]] = {}
    for n, row in enumerate(rows, 2):
        raw_day = (row.get("trade_date") or "").strip()
        if series_key.endswith("(Daily)"):
            key = f"{raw_day[:4]}-{raw_day[4:6]}-{raw_day[6:8]}" if len(raw_day) == 8 \
                else raw_day
        else:
            key = f"{raw_day}:00" if len(raw_day) == 16 else raw_day
        symbol = (row.get(code) or "").strip()
        if not symbol or not key:
            raise InvalidInput(f"{origin}:{n}: a row without {code} or trade_date")
        docs.setdefault(symbol, {})[key] = {
            "1. open": row["open"], "2. high": row["high"], "3. low": row["low"],
            "4. close": row["close"], "5. volume": _volume(row[volume], per_unit)}
    for symbol, series in docs.items():
        yield f"{origin}:{symbol}", {"Meta Data": {"2. Symbol": symbol, SOURCE_KEY: provider},
                                     series_key: series}


def _volume(raw: str, per_unit: Decimal) -> str:
    try:
        return text(dec(raw) * per_unit)
    except ValueError:
        return raw  # the bar is then refused by the parser, with its reason


def _loads(text: str, origin: str) -> dict[str, Any]:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{origin}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(doc, dict):
        raise InvalidInput(f"{origin}: expected a JSON object")
    return doc
