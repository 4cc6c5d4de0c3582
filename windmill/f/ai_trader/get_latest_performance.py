"""What the dashboard's table shows: per model its latest portfolio value, total and
per-session return, Sharpe ratio and maximum drawdown, and the same for the market's benchmark;
best first. Read from the service (/results/performance) for one market and frequency
(default US daily, the service's first market; an empty market: the models' own)."""

from f.ai_trader.aitrader_get import ai_trader_api, api_get


def performance(api: ai_trader_api, start_date: str, end_date: str, market: str,
                frequency: str) -> dict:
    """/results/performance of one market and frequency (both omitted when market is empty:
    the service then takes the models' own, and answers 400 when they trade several)."""
    return api_get(api, "/results/performance",
                   {"start_date": start_date, "end_date": end_date, "market": market,
                    "frequency": frequency if market else ""})


def _row(name: str, doc: dict, kind: str, perf: dict) -> dict:
    series, m = doc["series"], doc["metrics"]
    last = series[-1] if series else {}
    return {
        "model": name,
        "kind": kind,
        "market": perf.get("market"),
        "frequency": perf.get("frequency"),
        "currency": perf.get("currency"),
        "date": last.get("date"),  # the session id: a date, or an hourly bar's start
        "portfolio_value": last.get("portfolio_value"),
        "total_return_pct": round(m["cumulative_return"] * 100, 4),
        "daily_return_pct": last.get("daily_return_pct"),  # over the last session
        "sharpe": None if m.get("sharpe") is None else round(m["sharpe"], 4),
        "max_drawdown_pct": round(m["max_drawdown"] * 100, 4),
        "sessions": m["sessions"],
    }


def main(api: ai_trader_api, start_date: str = "", end_date: str = "", market: str = "us",
         frequency: str = "daily"):
    perf = performance(api, start_date, end_date, market, frequency)
    rows = [_row(name, doc, "model", perf) for name, doc in perf["models"].items()]
    rows.sort(key=lambda r: r["portfolio_value"] or 0.0, reverse=True)
    bench = perf.get("benchmark")
    if bench:
        rows.append(_row(bench.get("symbol", "QQQ"), bench, "benchmark", perf))
    return rows
