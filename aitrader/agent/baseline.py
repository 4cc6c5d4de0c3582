"""Rule-based models that need no LLM and trade through the same MCP tools.

- `baseline/buy-and-hold`: on its first day, equal parts of its cash in the first ten
  NASDAQ-100 names (AI-Trader's order, largest first), then holds.
- `baseline/momentum`: each day, ranks twenty names by their return over the last five
  sessions (closes it may see: up to yesterday), sells what left the top three and buys the
  top three with equal parts of the portfolio's value at today's open.

They are the yardstick next to QQQ, and make the service useful with no API key.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from aitrader.agent.base import BaseAgent, DayContext, SessionReport
from aitrader.agent.toolbox import ToolBox
from aitrader.market.calendar import nyse
from aitrader.market.symbols import NASDAQ_100
from aitrader.money import dec

ZERO = Decimal(0)


async def _price(tools: ToolBox, report: SessionReport, symbol: str, day: str, field: str
                 ) -> Decimal | None:
    result = await tools.call("get_price_local", {"symbol": symbol, "date": day})
    report.steps += 1
    report.tool_usage["get_price_local"] += 1
    ohlcv: dict[str, Any] = (result.payload or {}).get("ohlcv", {}) \
        if isinstance(result.payload, dict) else {}
    value = ohlcv.get(field)
    return dec(value) if value is not None and not result.is_error else None


async def _trade(tools: ToolBox, report: SessionReport, action: str, symbol: str,
                 amount: Decimal) -> bool:
    result = await tools.call(action, {"symbol": symbol, "amount": int(amount)})
    report.steps += 1
    report.tool_usage[action] += 1
    return not result.is_error and isinstance(result.payload, dict) \
        and result.payload.get("status") == "filled"


class BuyAndHold(BaseAgent):
    symbols = NASDAQ_100[:10]

    async def run_trading_session(self, day: DayContext, tools: ToolBox) -> SessionReport:
        report = SessionReport(stop_signal=True)
        if day.position.holdings:
            report.summary = "holding the equal-weight portfolio"
            return report
        budget = day.position.cash / len(self.symbols)
        bought = []
        for symbol in self.symbols:
            opened = await _price(tools, report, symbol, day.date, "open")
            if opened and budget // opened > 0 and \
                    await _trade(tools, report, "buy", symbol, budget // opened):
                bought.append(symbol)
        report.summary = f"bought equal parts of {', '.join(bought) or 'nothing'}"
        return report


class Momentum(BaseAgent):
    universe = NASDAQ_100[:20]
    lookback = 5
    top = 3

    async def run_trading_session(self, day: DayContext, tools: ToolBox) -> SessionReport:
        report = SessionReport(stop_signal=True)
        cal = nyse()
        yesterday = cal.previous(date.fromisoformat(day.date))
        start = yesterday
        for _ in range(self.lookback):
            start = cal.previous(start) if start else None
        if yesterday is None or start is None:
            report.summary = "not enough history"
            return report
        scores: dict[str, float] = {}
        for symbol in self.universe:
            last = await _price(tools, report, symbol, yesterday.isoformat(), "close")
            first = await _price(tools, report, symbol, start.isoformat(), "close")
            if last and first:
                scores[symbol] = float(last / first) - 1
        winners = sorted(scores, key=lambda s: (-scores[s], s))[: self.top]
        held = dict(day.position.holdings)
        cash = day.position.cash
        opens: dict[str, Decimal] = {}
        for symbol in sorted(set(held) | set(winners)):
            opened = await _price(tools, report, symbol, day.date, "open")
            if opened:
                opens[symbol] = opened
        for symbol, shares in sorted(held.items()):
            if symbol not in winners and symbol in opens and \
                    await _trade(tools, report, "sell", symbol, shares):
                cash += shares * opens[symbol]
                held.pop(symbol)
        value = cash + sum((n * opens.get(s, ZERO) for s, n in held.items()), ZERO)
        target = value / max(1, len(winners))
        for symbol in winners:
            if symbol not in opens:
                continue
            want = min(target, cash) // opens[symbol] - held.get(symbol, ZERO)
            if want > 0 and await _trade(tools, report, "buy", symbol, want):
                cash -= want * opens[symbol]
        report.summary = (f"top {self.top} by {self.lookback}-session return: "
                          + ", ".join(f"{s} {scores[s]:+.2%}" for s in winners))
        return report


BASELINES: dict[str, type[BaseAgent]] = {
    "baseline/buy-and-hold": BuyAndHold,
    "baseline/momentum": Momentum,
}
