"""Tool-call round trips through one persistent MCP session per server, over loopback HTTP.

Starts the real tool servers on free ports against a temporary database holding the demo
market, then times calls through one long-lived session per server: `add` (a trivial tool),
get_price_local, and buy / sell (each model-day making 10 trades, as a model would, by
switching the session's identity to a fresh model-day every 10 calls). For scale, it also times
a price look-up that opens a new session per call, as the original AI-Trader agent did.
Prints p50, p90 and calls/s. Targets on a 2-core machine: get_price_local p50 <= 5 ms,
buy p50 <= 8 ms.

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
from aitrader.market.symbols import ALL_SYMBOLS, NASDAQ_100
from aitrader.settings import Settings
from aitrader.store import Store
from aitrader.tools.client import tool_session
from aitrader.tools.identity import Identity
from aitrader.tools.launcher import ToolServers
from aitrader.tools.ports import free_ports, tool_env

DAY = "2025-10-02"
TRADES_PER_DAY = 10


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
    p90 = ms[max(0, int(len(ms) * 0.9) - 1)]
    rate = len(ms) / (sum(ms) / 1000)
    return f"| {name:<36} | {len(ms):>6} | {p50:>7.2f} | {p90:>7.2f} | {rate:>8.0f} |"


async def model_days(db: Path, n: int) -> list[Identity]:
    """n fresh models, each with an open model-day on DAY and plenty of cash."""
    out = []
    async with Store(db) as store:
        ledger = Ledger(store)
        for i in range(n):
            model = f"bench-{i}"
            await ledger.register_model(model, 10**7 * 10**4, "2025-10-01")
            out.append(Identity(model, DAY, "bench", await ledger.open_attempt(model, DAY)))
    return out


async def main(calls: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="aitrader-bench-"))
    db = tmp / "bench.db"
    cal = nyse()
    start, end = date(2025, 9, 2), date(2025, 10, 31)
    async with Store(db) as store:
        await upsert_bars(store, demo.generate(cal, start, end, seed=7))
    days = await model_days(db, calls // TRADES_PER_DAY + 1)
    env = {**os.environ, **tool_env(free_ports(4), AITRADER_DB=str(db),
                                     AITRADER_NEWS_FILE=str(tmp / "none.jsonl"))}
    settings = Settings.from_env(env)
    servers = ToolServers(settings, env=env, names=("math", "price", "trade"))
    await servers.start()
    current = [days[0]]
    dates = [d.isoformat() for d in cal.between(start, date(2025, 10, 1))]
    try:
        async with tool_session(settings.tool_url("price"), lambda: current[0]) as price, \
                tool_session(settings.tool_url("trade"), lambda: current[0]) as trade, \
                tool_session(settings.tool_url("math"), lambda: current[0]) as math:
            for _ in range(20):  # warm up
                await price.call_tool("get_price_local", {"symbol": "AAPL", "date": dates[0]})
                await math.call_tool("add", {"a": 1, "b": 2})

            async def traded(action: str, i: int) -> object:
                current[0] = days[i // TRADES_PER_DAY]
                sym = NASDAQ_100[i % TRADES_PER_DAY]
                return await trade.call_tool(action, {"symbol": sym, "amount": 1})

            rows = [
                row("add (trivial tool)", await timed(calls, lambda i: math.call_tool(
                    "add", {"a": i, "b": 1}))),
                row("get_price_local", await timed(calls, lambda i: price.call_tool(
                    "get_price_local",
                    {"symbol": ALL_SYMBOLS[i % len(ALL_SYMBOLS)], "date": dates[i % len(dates)]}
                ))),
                row("buy", await timed(calls, lambda i: traded("buy", i))),
                row("sell", await timed(calls, lambda i: traded("sell", i))),
            ]

        async def fresh(i: int) -> object:
            async with tool_session(settings.tool_url("price"), lambda: current[0]) as s:
                return await s.call_tool("get_price_local", {"symbol": "AAPL", "date": dates[0]})

        rows.append(row("get_price_local, new session per call",
                        await timed(max(20, calls // 10), fresh)))
    finally:
        await servers.stop()
    print(f"tool-call round trips over loopback HTTP, one persistent session per server "
          f"({os.cpu_count()} cores, Python {sys.version.split()[0]})")
    print("| call                                 |  calls | p50 ms  | p90 ms  |  calls/s |")
    print("|--------------------------------------|--------|---------|---------|----------|")
    print("\n".join(rows))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--calls", type=int, default=500)
    asyncio.run(main(parser.parse_args().calls))
