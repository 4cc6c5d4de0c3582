"""What the dashboard's table shows: per model its latest portfolio value, total and daily
return, Sharpe ratio and maximum drawdown, and the same for the QQQ benchmark; best first.
Read from the service (/results/performance)."""

from f.ai_trader.aitrader_get import ai_trader_api, api_get


def _row(name: str, doc: dict, kind: str) -> dict:
    series, m = doc["series"], doc["metrics"]
    last = series[-1] if series else {}
    return {
        "model": name,
        "kind": kind,
        "date": last.get("date"),
        "portfolio_value": last.get("portfolio_value"),
        "total_return_pct": round(m["cumulative_return"] * 100, 4),
        "daily_return_pct": last.get("daily_return_pct"),
        "sharpe": None if m.get("sharpe") is None else round(m["sharpe"], 4),
        "max_drawdown_pct": round(m["max_drawdown"] * 100, 4),
        "sessions": m["sessions"],
    }


def main(api: ai_trader_api, start_date: str = "", end_date: str = ""):
    perf = api_get(api, "/results/performance",
                   {"start_date": start_date, "end_date": end_date})
    rows = [_row(name, doc, "model") for name, doc in perf["models"].items()]
    rows.sort(key=lambda r: r["portfolio_value"] or 0.0, reverse=True)
    bench = perf.get("benchmark")
    if bench:
        rows.append(_row(bench.get("symbol", "QQQ"), bench, "benchmark"))
    return rows
