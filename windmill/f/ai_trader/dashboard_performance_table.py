"""Dashboard: the performance table of one market and frequency, as Windmill's rich table
display (table-row-object)."""

from f.ai_trader.aitrader_get import ai_trader_api
from f.ai_trader.get_latest_performance import main as latest_performance

UNIT = {"USD": "$"}  # other currencies by their code (CNY, USDT)
PER_SESSION = {"daily": "Daily", "hourly": "Hourly"}


def main(api: ai_trader_api, market: str = "us", frequency: str = "daily"):
    rows = latest_performance(api, market=market, frequency=frequency)
    table = []
    for r in rows:
        unit = UNIT.get(r["currency"], r["currency"] or "$")
        each = PER_SESSION.get(r["frequency"], "Session")
        table.append({
            "Model": r["model"] + (" (benchmark)" if r["kind"] == "benchmark" else ""),
            "Date": r["date"],
            f"Portfolio value ({unit})": r["portfolio_value"],
            "Total return (%)": r["total_return_pct"],
            f"{each} return (%)": r["daily_return_pct"],
            "Sharpe": r["sharpe"],
            "Max drawdown (%)": r["max_drawdown_pct"],
        })
    return {"table-row-object": table}
