"""What the dashboard's chart shows: the portfolio value per session of every model of one
market and frequency, and its benchmark bought with the same starting cash, on one list of
session ids (in the order of their instants). Read from the service."""

from datetime import datetime, timezone

from f.ai_trader.aitrader_get import ai_trader_api
from f.ai_trader.get_latest_performance import performance


def _order(session_id: str) -> tuple[str, str]:
    """Session ids by instant: hourly ids as UTC, a bare date (a baseline) before its day."""
    if "T" not in session_id:
        return (session_id, "")
    instant = datetime.fromisoformat(session_id).astimezone(timezone.utc)
    return (session_id[:10], instant.isoformat())


def main(api: ai_trader_api, start_date: str = "", end_date: str = "", market: str = "us",
         frequency: str = "daily"):
    perf = performance(api, start_date, end_date, market, frequency)
    named = {name: doc["series"] for name, doc in perf["models"].items()}
    bench = perf.get("benchmark")
    if bench:
        named[bench.get("symbol", "QQQ")] = bench["series"]
    dates = sorted({p["date"] for s in named.values() for p in s}, key=_order)
    series = {}
    for name, points in named.items():
        by_date = {p["date"]: p["portfolio_value"] for p in points}
        series[name] = [by_date.get(d) for d in dates]  # None where it has no value
    return {"start_date": perf["start_date"], "end_date": perf["end_date"],
            "market": perf.get("market"), "frequency": perf.get("frequency"),
            "currency": perf.get("currency"), "dates": dates, "series": series,
            "benchmark": bench.get("symbol", "QQQ") if bench else None}
