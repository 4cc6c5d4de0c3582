"""Trade tools through the ledger, port TRADE_HTTP_PORT: buy(symbol, amount) and
sell(symbol, amount) in whole shares for stock markets; buy_crypto and sell_crypto (the
original benchmark's names) with decimal amounts for crypto. An agent is shown the pair of
its market.

The trade lands in the caller's open model-session (the attempt its session key names) at
that session's open, by its market's rules; a refusal is a result the model reads, and leaves
the ledger unchanged.
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
Units = Annotated[int | float, BeforeValidator(_not_bool)]
STOCK_TOOLS = ("buy", "sell")
CRYPTO_TOOLS = ("buy_crypto", "sell_crypto")


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
        """Buy shares of a stock at the current session's open price.

        Args:
            symbol: stock symbol, e.g. "AAPL" or "600519.SH".
            amount: number of shares, a whole number greater than 0 (Shanghai main board:
                lots of 100; STAR Market 688xxx: at least 200).

        Returns the fill and the new positions, or an error saying why the trade was refused.
        """
        return await trade("buy", symbol, amount)

    @mcp.tool()
    async def sell(symbol: str, amount: Shares) -> dict[str, Any]:
        """Sell shares you hold at the current session's open price.

        Args:
            symbol: stock symbol, e.g. "AAPL" or "600519.SH".
            amount: number of shares, a whole number greater than 0 (Shanghai: lots of 100,
                or the whole holding; shares bought today can be sold from tomorrow).

        Returns the fill and the new positions, or an error saying why the trade was refused.
        """
        return await trade("sell", symbol, amount)

    @mcp.tool()
    async def buy_crypto(symbol: str, amount: Units) -> dict[str, Any]:
        """Buy a cryptocurrency against USDT at the current session's open price.

        Args:
            symbol: coin, e.g. "BTC-USDT" (or "BTC").
            amount: units to buy, greater than 0, at most 8 decimal places (e.g. 0.015).

        Returns the fill and the new positions, or an error saying why the trade was refused.
        """
        return await trade("buy", symbol, amount)

    @mcp.tool()
    async def sell_crypto(symbol: str, amount: Units) -> dict[str, Any]:
        """Sell a cryptocurrency you hold at the current session's open price.

        Args:
            symbol: coin, e.g. "BTC-USDT" (or "BTC").
            amount: units to sell, greater than 0, at most 8 decimal places.

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
