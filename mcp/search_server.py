"""Search tool: get_information(query), news published before the session date only.
Port SEARCH_HTTP_PORT (8001). Backend: a local news file (default) or Jina (JINA_API_KEY)."""

from __future__ import annotations

from typing import Any

import aiohttp
from fastmcp import FastMCP

from aitrader.ledger import Ledger
from aitrader.settings import Settings
from aitrader.store import Store
from aitrader.tools.news import JinaSearch, OfflineNews, SearchBackend, cutoff_of, render
from aitrader.tools.serving import add_health, caller, run_main, serve, store_check


def build(backend: SearchBackend, store: Store, *, limit: int, name: str) -> FastMCP:
    mcp = FastMCP("Search")
    ledger = Ledger(store)  # the caller's session date comes from its attempt

    @mcp.tool()
    async def get_information(query: str) -> str:
        """Search news and web pages for a query; only items published before today appear.

        Args:
            query: key information or search terms.

        Returns the matching pages: URL, title, description, publish time and content.
        """
        who = await caller(ledger)
        cutoff = cutoff_of(who)
        try:
            found = await backend.search(query[:500], cutoff, limit)
        except Exception as exc:  # an outside service failing is a result the model reads
            return f"Search failed ({type(exc).__name__}); try again later or other words."
        return render(query[:500], cutoff, found)

    async def check() -> dict[str, Any]:
        extra: dict[str, Any] = {"backend": name, **await store_check(store)()}
        if isinstance(backend, OfflineNews):
            extra["items"] = len(backend)
        return extra

    add_health(mcp, "search", check)
    return mcp


async def main() -> None:
    settings = Settings.from_env()
    async with Store(settings.db_path, readers=2) as store, aiohttp.ClientSession() as http:
        backend: SearchBackend
        if settings.search_backend == "jina":
            backend, name = JinaSearch(http, settings.jina_api_key), "jina"
        else:
            backend, name = OfflineNews(settings.news_file), "offline"
        mcp = build(backend, store, limit=settings.search_results, name=name)
        await serve(mcp, name="search", host=settings.mcp_host, port=settings.ports["search"])


if __name__ == "__main__":
    run_main(main)
