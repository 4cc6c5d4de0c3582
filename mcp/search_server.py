"""Search tool: get_information(query), news published before the session date only.
Port SEARCH_HTTP_PORT (8001). Backend: a local news file (default) or Jina (JINA_API_KEY)."""

from __future__ import annotations

from datetime import date
from typing import Any

import aiohttp
from fastmcp import FastMCP

from aitrader.settings import Settings
from aitrader.tools.news import JinaSearch, OfflineNews, SearchBackend, render
from aitrader.tools.serving import add_health, caller, run_main, serve


def build(backend: SearchBackend, *, limit: int, name: str) -> FastMCP:
    mcp = FastMCP("Search")

    @mcp.tool()
    async def get_information(query: str) -> str:
        """Search news and web pages for a query; only items published before today appear.

        Args:
            query: key information or search terms.

        Returns the matching pages: URL, title, description, publish time and content.
        """
        who = caller()
        session = date.fromisoformat(who.date)
        try:
            found = await backend.search(query[:500], session, limit)
        except Exception as exc:  # an outside service failing is a result the model reads
            return f"Search failed ({type(exc).__name__}); try again later or other words."
        return render(query[:500], session, found)

    async def check() -> dict[str, Any]:
        extra: dict[str, Any] = {"backend": name}
        if isinstance(backend, OfflineNews):
            extra["items"] = len(backend)
        return extra

    add_health(mcp, "search", check)
    return mcp


async def main() -> None:
    settings = Settings.from_env()
    if settings.search_backend == "jina":
        async with aiohttp.ClientSession() as http:
            mcp = build(JinaSearch(http, settings.jina_api_key), limit=settings.search_results,
                        name="jina")
            await serve(mcp, name="search",
                        host=settings.mcp_host, port=settings.ports["search"])
    else:
        mcp = build(OfflineNews(settings.news_file), limit=settings.search_results,
                    name="offline")
        await serve(mcp, name="search",
                        host=settings.mcp_host, port=settings.ports["search"])


if __name__ == "__main__":
    run_main(main)
