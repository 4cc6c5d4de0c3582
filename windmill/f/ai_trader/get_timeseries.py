"""What the dashboard's chart shows: the portfolio value per day of every model, and QQQ
scaled to the same starting cash, on one list of dates. Read from the service."""

from f.ai_trader.aitrader_get import ai_trader_api, api_get


def main(api: ai_trader_api, start_date: str = "", end_date: str = ""):
    perf = api_get(api, "/results/performance",
                   {"start_date": start_date, "end_date": end_date})
    named = {name: doc["series"] for name, doc in perf["models"].items()}
    bench = perf.get("benchmark")
    if bench:
        named[bench.get("symbol", "QQQ")] = bench["series"]
    dates = sorted({p["date"] for s in named.values() for p in s})
    series = {}
    for name, points in named.items():
        by_date = {p["date"]: p["portfolio_value"] for p in points}
        series[name] = [by_date.get(d) for d in dates]  # None where it has no value
    return {"start_date": perf["start_date"], "end_date": perf["end_date"], "dates": dates,
            "series": series, "benchmark": bench.get("symbol", "QQQ") if bench else None}
