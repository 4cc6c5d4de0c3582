"""Is a tool server up? One probe of its `GET /health`, used wherever that is asked: the
service's /health, the launcher waiting for its servers, `aitrader run` and `demo` deciding
whether to start them, the tests and the benchmarks."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

import aiohttp

from aitrader.settings import Settings


async def probe(http: aiohttp.ClientSession, url: str) -> dict[str, Any]:
    """{"status": "up"|"down", "url", "error"?} for the server at `url`."""
    try:
        async with http.get(url + "/health") as r:
            if r.status == 200:
                return {"status": "up", "url": url}
            return {"status": "down", "url": url, "error": f"/health answered {r.status}"}
    except (aiohttp.ClientError, TimeoutError) as exc:
        return {"status": "down", "url": url, "error": type(exc).__name__}


async def probe_all(settings: Settings, names: Sequence[str], *,
                    seconds: float = 2.0) -> Mapping[str, dict[str, Any]]:
    """Every named tool server, probed at once: name -> what `probe` says."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=seconds)) as http:
        found = await asyncio.gather(*[probe(http, settings.tool_url(n)) for n in names])
    return dict(zip(names, found, strict=True))
