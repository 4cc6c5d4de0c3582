"""Rule-based models that need no LLM and trade through the same MCP tools.

- `baseline/buy-and-hold`: in its first session, equal parts of its cash in the first ten
  names of its market's universe (AI-Trader's order, largest first), then holds.
- `baseline/momentum`: each session, ranks twenty names by their return over the last five
  sessions (closes it may see: up to the previous session), sells what left the top three
  and buys the top three with equal parts of the portfolio's value at this session's open.

Both trade in their market's quantities (whole shares, Shanghai lots, 8-place crypto) and
take a refusal (T+1, a price limit) as an answer: they keep what they hold.

They are the yardstick next to QQQ, and make the service useful with no API key.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal
from typing import Any

from aitrader.agent.base import BaseAgent, DayContext, SessionReport
from aitrader.agent.toolbox import ToolBox
from aitrader.markets import Market
from aitrader.markets.rules import ChinaLots
from aitrader.money import dec, num

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
    result = await tools.call(action, {"symbol": symbol, "amount": num(amount)})
    report.steps += 1
    report.tool_usage[action] += 1
    return not result.is_error and isinstance(result.payload, dict) \
        and result.payload.get("status") == "filled"


def tradable(market: Market, symbol: str, quantity: Decimal) -> Decimal:
    """The largest amount at most `quantity` that the market lets a buy have (0 if none)."""
    if market.lots.places:
        return quantity.quantize(Decimal(1).scaleb(-market.lots.places), rounding=ROUND_DOWN)
    whole = quantity.to_integral_value(rounding=ROUND_DOWN)
    if isinstance(market.lots, ChinaLots):
        if market.lots.is_star(symbol):
            return whole if whole >= market.lots.star_minimum else ZERO
        return whole - whole % market.lots.lot
    return whole


def _names(market: Market) -> tuple[str, str]:
    return ("buy_crypto", "sell_crypto") if market.key == "crypto" else ("buy", "sell")


class BuyAndHold(BaseAgent):
    picks = 10

    async def run_trading_session(self, day: DayContext, tools: ToolBox) -> SessionReport:
        report = SessionReport(stop_signal=True)
        if day.position.holdings:
            report.summary = "holding the equal-weight portfolio"
            return report
        market, (buy, _) = day.market, _names(day.market)
        symbols = market.universe[: self.picks]
        budget = day.position.cash / len(symbols)
        bought = []
        for symbol in symbols:
            opened = await _price(tools, report, symbol, day.date, "open")
            want = tradable(market, symbol, budget / opened) if opened else ZERO
            if want > 0 and await _trade(tools, report, buy, symbol, want):
                bought.append(symbol)
        report.summary = f"bought equal parts of {', '.join(bought) or 'nothing'}"
        return report


class Momentum(BaseAgent):
    universe_size = 20
    lookback = 5
    top = 3

    async def run_trading_session(self, day: DayContext, tools: ToolBox) -> SessionReport:
        report = SessionReport(stop_signal=True)
        market, (buy, sell) = day.market, _names(day.market)
        last_session = market.previous_session(day.date)
        first = last_session
        for _ in range(self.lookback):
            first = market.previous_session(first.id) if first else None
        if last_session is None or first is None:
            report.summary = "not enough history"
            return report
        scores: dict[str, float] = {}
        for symbol in market.universe[: self.universe_size]:
            last = await _price(tools, report, symbol, last_session.id, "close")
            start = await _price(tools, report, symbol, first.id, "close")
            if last and start:
                scores[symbol] = float(last / start) - 1
        winners = sorted(scores, key=lambda s: (-scores[s], s))[: self.top]
        held = dict(day.position.holdings)
        cash = day.position.cash
        opens: dict[str, Decimal] = {}
        for symbol in sorted(set(held) | set(winners)):
            opened = await _price(tools, report, symbol, day.date, "open")
            if opened:
                opens[symbol] = opened
        for symbol, quantity in sorted(held.items()):
            if symbol not in winners and symbol in opens and \
                    await _trade(tools, report, sell, symbol, quantity):
                cash += quantity * opens[symbol]
                held.pop(symbol)
        value = cash + sum((n * opens.get(s, ZERO) for s, n in held.items()), ZERO)
        target = value / max(1, len(winners))
        for symbol in winners:
            if symbol not in opens:
                continue
            want = tradable(market, symbol,
                            min(target, cash) / opens[symbol] - held.get(symbol, ZERO))
            if want > 0 and await _trade(tools, report, buy, symbol, want):
                cash -= want * opens[symbol]
        report.summary = (f"top {self.top} by {self.lookback}-session return: "
                          + ", ".join(f"{s} {scores[s]:+.2%}" for s in winners))
        return report


BASELINES: dict[str, type[BaseAgent]] = {
    "baseline/buy-and-hold": BuyAndHold,
    "baseline/momentum": Momentum,
}
