"""Tool-call round trips through one persistent MCP session per server, over loopback HTTP.

Starts the real tool servers on free ports against a temporary database holding the demo
market, then times get_price_local, buy and sell calls (and, for scale, a price look-up that
opens a new session per call, as the original AI-Trader agent did). Prints p50, p90 and
calls/s. Targets on a 2-core machine: get_price_local p50 <= 5 ms, buy p50 <= 8 ms.

    python bench/tool_calls.py [--calls 500]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path

from aitrader.ledger import Ledger
from aitrader.market import demo
from aitrader.market.calendar import nyse
from aitrader.market.prices import upsert_bars
from aitrader.market.symbols import ALL_SYMBOLS
from aitrader.settings import Settings
from aitrader.store import Store
from aitrader.tools.client import tool_session
from aitrader.tools.identity import Identity
from aitrader.tools.launcher import ToolServers
from aitrader.tools.ports import free_ports, tool_env


async def timed(n: int, call: Callable[[int], Awaitable[object]]) -> list[float]:
    out = []
    for i in range(n):
        t = time.perf_counter()
        await call(i)
        out.append((time.perf_counter() - t) * 1000)
    return out


def row(name: str, ms: list[float]) -> str:
    ms = sorted(ms)
    p50 = statistics.median(ms)
    p90 = ms[int(len(ms) * 0.9) - 1]
    rate = len(ms) / (sum(ms) / 1000)
    return f"| {name:<34} | {len(ms):>6} | {p50:>8.2f} | {p90:>8.2f} | {rate:>8.0f} |"


async def main(calls: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="aitrader-bench-"))
    db = tmp / "bench.db"
    cal = nyse()
    start, end = date(2025, 9, 2), date(2025, 10, 31)
    async with Store(db) as store:
        await upsert_bars(store, demo.generate(cal, start, end, seed=7))
        ledger = Ledger(store)
        await ledger.register_model("bench", 10**9 * 10**4, "2025-10-01")
        attempt = await ledger.open_attempt("bench", "2025-10-02")
    env = {**os.environ, **tool_env(free_ports(4), AITRADER_DB=str(db),
                                     AITRADER_NEWS_FILE=str(tmp / "none.jsonl"))}
    settings = Settings.from_env(env)
    servers = ToolServers(settings, env=env, names=("price", "trade"))
    await servers.start()
    ident = Identity("bench", "2025-10-02", "bench-job", attempt)
    days = [d.isoformat() for d in cal.between(start, date(2025, 10, 1))]
    symbols = list(ALL_SYMBOLS)
    try:
        async with tool_session(settings.tool_url("price"), lambda: ident) as price, \
                tool_session(settings.tool_url("trade"), lambda: ident) as trade:
            for _ in range(20):  # warm up both servers
                await price.call_tool("get_price_local", {"symbol": "AAPL", "date": days[0]})
            rows = [
                row("get_price_local (persistent)", await timed(calls, lambda i: price.call_tool(
                    "get_price_local",
                    {"symbol": symbols[i % len(symbols)], "date": days[i % len(days)]}))),
                row("buy (persistent)", await timed(calls, lambda i: trade.call_tool(
                    "buy", {"symbol": symbols[i % 100], "amount": 1}))),
                row("sell (persistent)", await timed(calls, lambda i: trade.call_tool(
                    "sell", {"symbol": symbols[i % 100], "amount": 1}))),
            ]

        async def fresh(i: int) -> object:
            async with tool_session(settings.tool_url("price"), lambda: ident) as s:
                return await s.call_tool("get_price_local", {"symbol": "AAPL", "date": days[0]})

        rows.append(row("get_price_local (new session/call)",
                        await timed(max(20, calls // 10), fresh)))
    finally:
        await servers.stop()
    print(f"tool-call round trips over loopback HTTP ({os.cpu_count()} cores, "
          f"Python {sys.version.split()[0]})")
    print("| call                               |  calls |  p50 ms |  p90 ms |  calls/s |")
    print("|------------------------------------|--------|---------|---------|----------|")
    print("\n".join(rows))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=500)
    asyncio.run(main(parser.parse_args().calls))
