"""Trade tools: buy(symbol, amount), sell(symbol, amount) through the ledger. Port TRADE_HTTP_PORT.

The trade lands in the caller's open model-day (the attempt its session key names) at that
day's open; a refusal is a result the model reads, and leaves the ledger unchanged.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastmcp import FastMCP
from fastmcp.exceptions import ToolError
from pydantic import BeforeValidator

from aitrader.errors import AttemptClosed, IdentityError, InvalidInput, NotFound, TradeRefused
from aitrader.ledger import Ledger
from aitrader.money import num
from aitrader.settings import Settings
from aitrader.store import Store
from aitrader.tools.serving import add_health, caller, run_main, serve, store_check


def _not_bool(value: object) -> object:
    if isinstance(value, bool):  # JSON true would otherwise be taken as 1 share
        raise ValueError("amount must be a whole number of shares, not true or false")
    return value


Shares = Annotated[int, BeforeValidator(_not_bool)]


def build(store: Store) -> FastMCP:
    mcp = FastMCP("TradeTools")
    ledger = Ledger(store)

    async def trade(action: str, symbol: str, amount: Any) -> dict[str, Any]:
        who = await caller(ledger)
        assert who.attempt is not None
        try:
            fill = await ledger.trade(who.attempt, action, symbol, amount,
                                      expect=(who.model, who.date))
        except TradeRefused as exc:
            return {"error": exc.message, "action": action, "symbol": str(symbol)[:16],
                    "amount": amount if isinstance(amount, int | float) else str(amount)[:20]}
        except (AttemptClosed, IdentityError, NotFound, InvalidInput) as exc:
            raise ToolError(exc.message) from None
        pos = fill.position
        return {
            "status": "filled", "action": fill.action, "symbol": fill.symbol,
            "amount": num(fill.quantity), "price": float(fill.price),
            "total": float(fill.total),
            "positions": {**{s: num(n) for s, n in sorted(pos.holdings.items())},
                          "CASH": float(pos.cash)},
        }

    @mcp.tool()
    async def buy(symbol: str, amount: Shares) -> dict[str, Any]:
        """Buy whole shares of a NASDAQ-100 stock at today's open price.

        Args:
            symbol: stock symbol, e.g. "AAPL".
            amount: number of shares, a whole number greater than 0.

        Returns the fill and the new positions, or an error saying why the trade was refused.
        """
        return await trade("buy", symbol, amount)

    @mcp.tool()
    async def sell(symbol: str, amount: Shares) -> dict[str, Any]:
        """Sell whole shares you hold at today's open price.

        Args:
            symbol: stock symbol, e.g. "AAPL".
            amount: number of shares, a whole number greater than 0.

        Returns the fill and the new positions, or an error saying why the trade was refused.
        """
        return await trade("sell", symbol, amount)

    add_health(mcp, "trade", store_check(store))
    return mcp


async def main() -> None:
    settings = Settings.from_env()
    async with Store(settings.db_path, readers=2) as store:
        await serve(build(store), name="trade",
                        host=settings.mcp_host, port=settings.ports["trade"])


if __name__ == "__main__":
    run_main(main)
