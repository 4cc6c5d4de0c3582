"""Dashboard: the performance table, as Windmill's rich table display (table-row-object)."""

from f.ai_trader.aitrader_get import ai_trader_api
from f.ai_trader.get_latest_performance import main as latest_performance


def main(api: ai_trader_api):
    rows = latest_performance(api)
    table = [{
        "Model": r["model"] + (" (benchmark)" if r["kind"] == "benchmark" else ""),
        "Date": r["date"],
        "Portfolio value ($)": r["portfolio_value"],
        "Total return (%)": r["total_return_pct"],
        "Daily return (%)": r["daily_return_pct"],
        "Sharpe": r["sharpe"],
        "Max drawdown (%)": r["max_drawdown_pct"],
    } for r in rows]
    return {"table-row-object": table}
