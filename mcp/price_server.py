"""Price tool: get_price_local(symbol, date), with no look-ahead. Port GETPRICE_HTTP_PORT (8003)."""

from __future__ import annotations

from typing import Any

from fastmcp import FastMCP

from aitrader.ledger import Ledger
from aitrader.market.calendar import nyse
from aitrader.settings import Settings
from aitrader.store import Store
from aitrader.tools.pricing import price_for
from aitrader.tools.serving import add_health, caller, run_main, serve, store_check


def build(store: Store) -> FastMCP:
    mcp = FastMCP("LocalPrices")
    cal, ledger = nyse(), Ledger(store)

    @mcp.tool()
    async def get_price_local(symbol: str, date: str) -> dict[str, Any]:
        """Read the daily OHLCV bar of a stock on a date (YYYY-MM-DD).

        Earlier days are shown in full; on today's trading date only the open is known;
        later dates cannot be looked up.
        """
        return await price_for(store, cal, await caller(ledger), symbol, date)

    add_health(mcp, "price", store_check(store))
    return mcp


async def main() -> None:
    settings = Settings.from_env()
    async with Store(settings.db_path, readers=4) as store:
        await serve(build(store), name="price",
                        host=settings.mcp_host, port=settings.ports["price"])


if __name__ == "__main__":
    run_main(main)
