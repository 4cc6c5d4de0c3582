"""Reading Alpha Vantage TIME_SERIES_DAILY documents and AI-Trader's merged.jsonl (same shape,
with "1. buy price" / "4. sell price", and the newest day cut to its open)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs

from aitrader.errors import DataError, InvalidInput
from aitrader.market.prices import Bar
from aitrader.market.symbols import normalise
from aitrader.money import dec

SERIES_KEY = "Time Series (Daily)"
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
    if SERIES_KEY in doc:
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


def parse_series(doc: dict[str, Any], *, source: str | None = None) -> ParsedSeries:
    """Bars of one symbol; days without a close (merged.jsonl's newest) or insane are skipped.

    The source is "aitrader" for merged.jsonl's renamed keys, else "alphavantage", unless given.
    """
    notice = notice_of(doc)
    if notice:
        raise DataError(f"not a daily series: {notice.message}", kind=notice.kind)
    meta = doc.get("Meta Data") or {}
    symbol = normalise(meta.get("2. Symbol", ""))
    if not symbol:
        raise DataError("the series has no '2. Symbol' in its Meta Data")
    series = doc[SERIES_KEY]
    if not isinstance(series, dict):
        raise DataError(f"{symbol}: '{SERIES_KEY}' is not an object")
    if source is None:
        renamed = any(isinstance(v, dict) and _OPEN[1] in v for v in series.values())
        source = "aitrader" if renamed else "alphavantage"
    bars: list[Bar] = []
    skipped: list[str] = []
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
                session=day if len(day) == 10 and day[4] == "-" and day[7] == "-" else "",
                open=dec(opened),
                high=dec(values["2. high"]),
                low=dec(values["3. low"]),
                close=dec(closed),
                volume=dec(values.get("5. volume", 0)),
                source=source,
            )
        except (ValueError, TypeError):
            skipped.append(f"{day}: a value is not a number")
            continue
        why = "not a YYYY-MM-DD date" if not bar.session else bar.problem()
        if why:
            skipped.append(f"{day}: {why}")
            continue
        bars.append(bar)
    bars.sort(key=lambda b: b.session)
    return ParsedSeries(symbol, bars, skipped)


def read_documents(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """(origin, document) for a .json file, each line of a .jsonl file, or a folder of them."""
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix in (".json", ".jsonl"))
        if not files:
            raise InvalidInput(f"{path.name}: no .json or .jsonl files in this folder")
        for child in files:
            yield from read_documents(child)
        return
    if not path.is_file():
        raise InvalidInput(f"{path}: no such file or folder")
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".jsonl":
        for n, line in enumerate(text.splitlines(), 1):
            if line.strip():
                yield f"{path.name}:{n}", _loads(line, f"{path.name}:{n}")
    else:
        yield path.name, _loads(text, path.name)


def _loads(text: str, origin: str) -> dict[str, Any]:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{origin}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(doc, dict):
        raise InvalidInput(f"{origin}: expected a JSON object")
    return doc
