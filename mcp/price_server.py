"""Price tool: get_price_local(symbol, date), with no look-ahead. Port GETPRICE_HTTP_PORT (8003)."""

from __future__ import annotations

from typing import Any

from fastmcp import FastMCP

from aitrader import markets
from aitrader.ledger import Ledger
from aitrader.settings import Settings
from aitrader.store import Store
from aitrader.tools.pricing import price_for
from aitrader.tools.serving import add_health, caller, run_main, serve, store_check


def build(store: Store) -> FastMCP:
    mcp = FastMCP("LocalPrices")
    ledger = Ledger(store)
    # the US calendar now, so no model waits for it on its first call (about 0.3 s); another
    # market's is loaded on that market's first call
    markets.get().schedule.calendar()

    @mcp.tool()
    async def get_price_local(symbol: str, date: str) -> dict[str, Any]:
        """Read the OHLCV bar of a symbol: a day (YYYY-MM-DD) or, in hourly runs, a session
        given by its start (e.g. 2025-10-31T10:00:00-04:00).

        Earlier bars are shown in full; of the current session (and, in hourly runs, of the
        current day) only the open is known; later ones cannot be looked up.
        """
        return await price_for(store, await caller(ledger), symbol, date)

    add_health(mcp, "price", store_check(store))
    return mcp


async def main() -> None:
    settings = Settings.from_env()
    async with Store(settings.db_path, readers=4) as store:
        await serve(build(store), name="price",
                        host=settings.mcp_host, port=settings.ports["price"])


if __name__ == "__main__":
    run_main(main)
